# The HTTP API, built from docs/openapi.json: every operation becomes a route with a Lambda proxy integration
# (payload 2.0) to the function its x-portal-function names; x-portal-auth = operator routes get IAM (SigV4)
# authorization. Only the routes go to API Gateway (schemas stay in the repo's document: API Gateway does not
# validate HTTP API bodies and imports OpenAPI 3.0).

locals {
  openapi      = jsondecode(file("${path.module}/../docs/openapi.json"))
  http_methods = ["get", "put", "post", "delete", "patch", "head", "options"]

  api_body = {
    openapi = "3.0.1"
    info    = { title = local.prefix, version = local.openapi.info.version }
    paths = {
      for path, item in local.openapi.paths : path => {
        for method, op in item : method => merge(
          {
            responses = { default = { description = "See docs/openapi.json" } }
            "x-amazon-apigateway-integration" = {
              type                 = "aws_proxy"
              httpMethod           = "POST"
              uri                  = aws_lambda_function.function[op["x-portal-function"]].invoke_arn
              payloadFormatVersion = "2.0"
              timeoutInMillis      = 29000
            }
          },
          { for k, v in { security = [{ sigv4 = [] }] } : k => v if op["x-portal-auth"] == "operator" },
        ) if contains(local.http_methods, method)
      }
    }
    components = {
      securitySchemes = {
        sigv4 = {
          type                           = "apiKey"
          name                           = "Authorization"
          in                             = "header"
          "x-amazon-apigateway-authtype" = "awsSigv4"
        }
      }
    }
  }
}

# Reached only through CloudFront (web.tf) and, for operators' SigV4 calls, through the regional custom domain
# below: the execute-api endpoint is disabled. No CORS configuration: the app and the API share one origin
# (portal_url), and operators' systems call server to server.
resource "aws_apigatewayv2_api" "portal" {
  name                         = local.prefix
  protocol_type                = "HTTP"
  body                         = jsonencode(local.api_body)
  disable_execute_api_endpoint = true
}

# The API's origin for CloudFront (and operators): a regional custom domain, e.g. api-origin.portal.example.com.
# Its DNS record (CNAME or alias to api_origin_target) is the operator's (docs/deploy.md "One origin").
resource "aws_apigatewayv2_domain_name" "api_origin" {
  domain_name = var.api_origin_domain

  domain_name_configuration {
    certificate_arn = var.api_origin_certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  lifecycle {
    precondition {
      condition     = split(":", var.api_origin_certificate_arn)[3] == var.region
      error_message = "api_origin_certificate_arn must be an ACM certificate in var.region (a regional custom domain)."
    }
    precondition {
      condition     = var.api_origin_domain != local.portal_host
      error_message = "api_origin_domain must differ from portal_url's host (that name is CloudFront's)."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "api_origin" {
  api_id      = aws_apigatewayv2_api.portal.id
  domain_name = aws_apigatewayv2_domain_name.api_origin.id
  stage       = aws_apigatewayv2_stage.default.id
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${local.prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.portal.arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.portal.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.api_throttle.rate_limit
    throttling_burst_limit   = var.api_throttle.burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    # No query strings, headers or bodies: sign-in tokens and codes never reach the access log.
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTime"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
      sourceIp         = "$context.identity.sourceIp"
      iamUser          = "$context.identity.userArn"
    })
  }
}

resource "aws_lambda_permission" "api" {
  for_each      = local.http_functions
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.portal.execution_arn}/*/*"
}

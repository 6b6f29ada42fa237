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

resource "aws_apigatewayv2_api" "portal" {
  name          = local.prefix
  protocol_type = "HTTP"
  body          = jsonencode(local.api_body)

  cors_configuration {
    allow_origins     = [var.portal_url]
    allow_methods     = ["GET", "POST", "PUT", "DELETE"]
    allow_headers     = ["content-type", "if-match", "if-none-match", "authorization", "idempotency-key"]
    expose_headers    = ["etag", "location"]
    allow_credentials = true
    max_age           = 600
  }
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

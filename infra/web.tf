# One origin for the customer web app and the API (docs/deploy.md "One origin (CloudFront)"): a CloudFront
# distribution on portal_url's host serves the static app (web/dist) from a private bucket (Origin Access
# Control) and sends the API's path prefixes (local.api_path_patterns) to the HTTP API's regional custom domain.
# The SPA fallback is a viewer-request function on the app behavior only (never custom_error_responses, which
# would turn the API's problem+json 404s into index.html). A WAF web ACL (us-east-1) rate-limits sign-in.

locals {
  portal_host = regex("^https://([^:/]+)$", var.portal_url)[0]

  # The app's Content-Security-Policy, exactly as CloudFront sends it (mirror it in the local server). No
  # 'unsafe-inline': brand colours are set through the CSSOM (web/src/brand.ts), Stripe.js is the one script
  # from elsewhere.
  app_csp = "default-src 'none'; script-src 'self' https://js.stripe.com; style-src 'self'; img-src 'self' data: https:; font-src 'self'; connect-src 'self' https://api.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
  # API responses are JSON: nothing to load, nothing may frame them.
  api_csp = "default-src 'none'; frame-ancestors 'none'"
  # The API's own HTML pages (the one-click unsubscribe page, functions/notifications/src/http.rs): inline styles
  # and a form that posts back to itself, nothing else; the same CSP the function sends.
  api_pages_csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

  # Every path prefix of docs/openapi.json goes to API Gateway (infra/tests/consistency.py checks that each
  # route matches one, so a new prefix cannot silently fall to the SPA); everything else is the app.
  api_path_patterns = ["/auth/*", "/bookings", "/bookings/*", "/operator/*", "/webhooks/*", "/notifications/*"]
  # API paths that answer HTML pages rather than JSON get the `api_pages` headers (their CSP; no Referer, since
  # the unsubscribe link's token is in the URL); every other API path gets `api`.
  api_path_headers = { "/notifications/*" = "api_pages" }

  app_origin_id = "app"
  api_origin_id = "api"

  # /config.json: the brands' public settings, read by the app at start (web/src/brand.ts).
  web_config = {
    brands = {
      for id, b in var.brands : id => {
        for k, v in {
          name                   = b.name
          primary_colour         = b.primary_colour
          logo_url               = b.logo_url
          support_email          = b.support_email
          support_phone          = b.support_phone
          stripe_publishable_key = lookup(var.stripe_publishable_keys, id, null)
        } : k => v if v != null
      }
    }
  }
}

# ---------------------------------------------------------------- the app bucket

resource "aws_s3_bucket" "app" {
  # checkov:skip=CKV_AWS_18:Server access logs would need a log bucket; the files are public and every request reaches the bucket through CloudFront (WAF logs, CloudFront metrics).
  # checkov:skip=CKV_AWS_144:Cross-region replication is not needed for build output: the bucket is refilled from web/dist by the deploy (docs/deploy.md).
  # checkov:skip=CKV2_AWS_62:No consumer of event notifications: the files change only by deploys.
  # checkov:skip=CKV_AWS_145:Public static files: SSE-S3 rather than the portal's KMS key, so CloudFront (OAC) needs no kms:Decrypt on the key that protects the portal's data.
  bucket        = "${local.prefix}-app-${local.account_id}"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "app" {
  bucket                  = aws_s3_bucket.app.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "app" {
  bucket = aws_s3_bucket.app.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "app" {
  bucket = aws_s3_bucket.app.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "app" {
  bucket = aws_s3_bucket.app.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "app" {
  bucket = aws_s3_bucket.app.id

  rule {
    id     = "noncurrent-and-incomplete"
    status = "Enabled"
    filter {}

    # Old builds (sync --delete leaves them as noncurrent versions): 30 days to roll back by hand.
    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.app]
}

data "aws_iam_policy_document" "app_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.app.arn, "${aws_s3_bucket.app.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Only this distribution (through its Origin Access Control) reads the files; no s3:ListBucket, so a missing
  # file is a 403 and the listing is never exposed.
  statement {
    sid       = "CloudFrontReadsTheApp"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.app.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.portal.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "app" {
  bucket = aws_s3_bucket.app.id
  policy = data.aws_iam_policy_document.app_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.app]
}

# Terraform manages /config.json only; index.html and assets/ are uploaded by the deploy (docs/deploy.md).
resource "aws_s3_object" "web_config" {
  # checkov:skip=CKV_AWS_186:Public settings (brand names, colours, Stripe publishable keys) in the SSE-S3 app bucket; see CKV_AWS_145 on aws_s3_bucket.app.
  bucket        = aws_s3_bucket.app.id
  key           = "config.json"
  content       = jsonencode(local.web_config)
  content_type  = "application/json"
  cache_control = "no-cache"

  lifecycle {
    precondition {
      condition     = alltrue([for id in keys(var.stripe_publishable_keys) : contains(keys(var.brands), id)])
      error_message = "stripe_publishable_keys has a key that is not a brand id of var.brands."
    }
  }

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.app]
}

# ---------------------------------------------------------------- CloudFront

resource "aws_cloudfront_origin_access_control" "app" {
  name                              = "${local.prefix}-app"
  description                       = "${local.prefix}: CloudFront reads the app bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# SPA fallback, on the app behavior only: a path whose last segment has no extension (/, /sign-in,
# /trips/AE-10001) is the app's index.html; files (/config.json, /favicon.ico) are served as they are.
resource "aws_cloudfront_function" "spa" {
  name    = "${local.prefix}-spa"
  runtime = "cloudfront-js-2.0"
  comment = "Extension-less paths are the app's index.html"
  publish = true
  code    = <<-JS
    function handler(event) {
      var request = event.request;
      var last = request.uri.substring(request.uri.lastIndexOf("/") + 1);
      if (last.indexOf(".") === -1) {
        request.uri = "/index.html";
      }
      return request;
    }
  JS
}

data "aws_cloudfront_cache_policy" "caching_optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_cache_policy" "caching_disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer_except_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

# Security headers on every behavior; the app's CSP and Cache-Control per kind of file. Cache-Control is
# overridden here so browsers get it even if an upload forgot it: index.html, config.json and other top-level
# files revalidate (no-cache), content-hashed assets never change (immutable).
locals {
  response_headers = {
    app = {
      comment       = "App documents and top-level files: CSP, security headers, no-cache"
      csp           = local.app_csp
      referrer      = "strict-origin-when-cross-origin"
      cache_control = "no-cache"
    }
    assets = {
      comment       = "Content-hashed assets: CSP, security headers, cached for a year"
      csp           = local.app_csp
      referrer      = "strict-origin-when-cross-origin"
      cache_control = "public, max-age=31536000, immutable"
    }
    api = {
      comment       = "API responses: security headers (the API sets its own Cache-Control)"
      csp           = local.api_csp
      referrer      = "strict-origin-when-cross-origin"
      cache_control = null
    }
    api_pages = {
      comment       = "API HTML pages (unsubscribe): their CSP, no Referer (a token is in the URL), security headers"
      csp           = local.api_pages_csp
      referrer      = "no-referrer"
      cache_control = null
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "portal" {
  for_each = local.response_headers
  name     = "${local.prefix}-${each.key}"
  comment  = each.value.comment

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = each.value.referrer
      override        = true
    }
    content_security_policy {
      content_security_policy = each.value.csp
      override                = true
    }
  }

  dynamic "custom_headers_config" {
    for_each = each.value.cache_control == null ? [] : [each.value.cache_control]
    content {
      items {
        header   = "Cache-Control"
        value    = custom_headers_config.value
        override = true
      }
    }
  }
}

resource "aws_cloudfront_distribution" "portal" {
  # checkov:skip=CKV_AWS_86:Standard logs need an S3 bucket with ACLs enabled (all buckets here enforce bucket-owner ownership); API requests are in the API access log, blocked and counted requests in the WAF log (aws_wafv2_web_acl_logging_configuration.portal).
  # checkov:skip=CKV_AWS_310:One app bucket and one API region: there is no second origin to fail over to, and origin groups only fail over GET/HEAD/OPTIONS.
  # checkov:skip=CKV_AWS_374:Travellers book from anywhere; geo restriction is not a control this portal needs.
  # checkov:skip=CKV2_AWS_47:The web ACL has the Log4j AMR (AWSManagedRulesKnownBadInputsRuleSet); the check also demands AWSManagedRulesAnonymousIpList, which would block travellers on VPNs and payment webhooks from hosting-provider addresses.
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = "${local.prefix}: customer web app and API on one origin"
  aliases             = [local.portal_host]
  default_root_object = "index.html"
  price_class         = var.cloudfront_price_class
  web_acl_id          = aws_wafv2_web_acl.portal.arn

  origin {
    origin_id                = local.app_origin_id
    domain_name              = aws_s3_bucket.app.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.app.id
  }

  # The HTTP API through its regional custom domain (the execute-api endpoint is disabled, api.tf); its DNS
  # record (api_origin_domain -> api_origin_target) is the operator's.
  origin {
    origin_id   = local.api_origin_id
    domain_name = aws_apigatewayv2_domain_name.api_origin.domain_name

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  # The app: cached, compressed, extension-less paths rewritten to /index.html.
  default_cache_behavior {
    target_origin_id           = local.app_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.caching_optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.portal["app"].id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.spa.arn
    }
  }

  ordered_cache_behavior {
    path_pattern               = "/assets/*"
    target_origin_id           = local.app_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.caching_optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.portal["assets"].id
  }

  # The API: never cached, every viewer header (cookies, Authorization, If-Match, Idempotency-Key), query
  # string and method passed on except Host. https-only rather than a redirect: a redirected POST loses its
  # body, and HSTS keeps browsers on https anyway.
  dynamic "ordered_cache_behavior" {
    for_each = local.api_path_patterns
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.api_origin_id
      viewer_protocol_policy     = "https-only"
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = data.aws_cloudfront_cache_policy.caching_disabled.id
      origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer_except_host.id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.portal[lookup(local.api_path_headers, ordered_cache_behavior.value, "api")].id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.cloudfront_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }
}

# ---------------------------------------------------------------- WAF (CLOUDFRONT scope: us-east-1)

locals {
  # Per-IP rate limits on the sign-in routes (5-minute windows); their blocks raise the sign-in alarm.
  sign_in_rate_rules = {
    sign_in_links    = { priority = 10, path = "/auth/magic-links", limit = var.waf_rate_limits.magic_links }
    sign_in_sessions = { priority = 11, path = "/auth/sessions", limit = var.waf_rate_limits.sessions }
  }
  waf_metric_prefix = replace(local.prefix, "-", "_")
}

resource "aws_wafv2_web_acl" "portal" {
  provider    = aws.us_east_1
  name        = local.prefix
  description = "${local.prefix}: customer web app and API"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  custom_response_body {
    key          = "rate_limited"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      type   = "/problems/rate-limited"
      title  = "Too many requests"
      status = 429
      detail = "Too many requests from this address; try again in a few minutes."
    })
  }

  dynamic "rule" {
    for_each = local.sign_in_rate_rules
    content {
      name     = rule.key
      priority = rule.value.priority

      action {
        block {
          custom_response {
            response_code            = 429
            custom_response_body_key = "rate_limited"
            response_header {
              name  = "Retry-After"
              value = "300"
            }
          }
        }
      }

      statement {
        rate_based_statement {
          limit              = rule.value.limit
          aggregate_key_type = "IP"

          scope_down_statement {
            and_statement {
              statement {
                byte_match_statement {
                  search_string         = rule.value.path
                  positional_constraint = "EXACTLY"
                  field_to_match {
                    uri_path {}
                  }
                  text_transformation {
                    priority = 0
                    type     = "NONE"
                  }
                }
              }
              statement {
                byte_match_statement {
                  search_string         = "POST"
                  positional_constraint = "EXACTLY"
                  field_to_match {
                    method {}
                  }
                  text_transformation {
                    priority = 0
                    type     = "NONE"
                  }
                }
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${local.waf_metric_prefix}_${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  # Every request, any path: a flood from one address.
  rule {
    name     = "per_ip"
    priority = 20

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate_limited"
          response_header {
            name  = "Retry-After"
            value = "300"
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limits.per_ip
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_metric_prefix}_per_ip"
      sampled_requests_enabled   = true
    }
  }

  # Known exploit payloads (Log4j JNDI lookups, Java deserialisation, localhost Host headers).
  rule {
    name     = "known_bad_inputs"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_metric_prefix}_known_bad_inputs"
      sampled_requests_enabled   = true
    }
  }

  # The common rule set (XSS, LFI, bad bots, ...). SizeRestrictions_BODY (bodies over 8 KB) only counts: an
  # operator booking PUT can be larger (the API takes up to 256 KiB, docs/problems.md). Payment webhooks are
  # left out: they are signed by the gateway and carry traveller-entered text (names, addresses) that must not
  # be blocked (a lost webhook waits for the reconciler).
  rule {
    name     = "common"
    priority = 40

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }

        scope_down_statement {
          not_statement {
            statement {
              byte_match_statement {
                search_string         = "/webhooks/"
                positional_constraint = "STARTS_WITH"
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_metric_prefix}_common"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.waf_metric_prefix
    sampled_requests_enabled   = true
  }
}

# WAF logs: blocked and counted requests only, without cookies (the session), Authorization or query strings.
# CloudFront-scope WAF logs to a log group in us-east-1, encrypted with a key there (KMS keys are regional).
data "aws_iam_policy_document" "edge_kms" {
  # checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); the account root keeps administration.
  # checkov:skip=CKV_AWS_111:As above: "*" in a key policy means this key only.
  # checkov:skip=CKV_AWS_356:As above: "*" in a key policy means this key only.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "LogsOfThisAccount"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.us-east-1.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted edge alarm topic.
  statement {
    sid       = "AlarmsPublishToTheEdgeTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "edge" {
  provider                = aws.us_east_1
  description             = "${local.prefix}: WAF logs and edge alarms (us-east-1)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.edge_kms.json
}

resource "aws_cloudwatch_log_group" "waf" {
  provider          = aws.us_east_1
  name              = "aws-waf-logs-${local.prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.edge.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "portal" {
  provider                = aws.us_east_1
  resource_arn            = aws_wafv2_web_acl.portal.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
  redacted_fields {
    query_string {}
  }

  logging_filter {
    default_behavior = "DROP"

    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"
      condition {
        action_condition {
          action = "BLOCK"
        }
      }
      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}

# Alarms on WAF metrics live where the metrics are (us-east-1), so they notify a topic there.
resource "aws_sns_topic" "edge_alarms" {
  provider          = aws.us_east_1
  name              = "${local.prefix}-edge-alarms"
  kms_master_key_id = aws_kms_key.edge.arn
}

resource "aws_sns_topic_subscription" "edge_alarm_email" {
  provider  = aws.us_east_1
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.edge_alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# A sign-in rate rule blocked someone: one address past its limit on POST /auth/magic-links or /auth/sessions
# (guessing codes, or mailing someone's travellers). The WAF log says which address.
resource "aws_cloudwatch_metric_alarm" "sign_in_blocked" {
  provider            = aws.us_east_1
  for_each            = local.sign_in_rate_rules
  alarm_name          = "${local.prefix}-waf-${each.key}-blocked"
  alarm_description   = "WAF blocked requests to POST ${each.value.path} (more than ${each.value.limit} per 5 minutes from one address): see the WAF log group aws-waf-logs-${local.prefix} (us-east-1)."
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  dimensions          = { WebACL = aws_wafv2_web_acl.portal.name, Rule = "${local.waf_metric_prefix}_${each.key}" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.edge_alarms.arn]
}

output "table_name" {
  description = "The portal's DynamoDB table (TABLE_NAME of every function)."
  value       = aws_dynamodb_table.portal.name
}

output "api_url" {
  description = "The API's base URL for browsers and webhooks: portal_url itself (CloudFront sends the API paths to API Gateway; the execute-api endpoint is disabled)."
  value       = var.portal_url
}

output "operator_api_url" {
  description = "Base URL operators' systems sign SigV4 requests for and call (the API's regional custom domain: CloudFront replaces the Host header, which a SigV4 signature covers)."
  value       = "https://${aws_apigatewayv2_domain_name.api_origin.domain_name}"
}

output "cloudfront_domain_name" {
  description = "The distribution's domain: point portal_url's host at it (CNAME, or a Route 53 alias with zone Z2FDTNDATAQYW2)."
  value       = aws_cloudfront_distribution.portal.domain_name
}

output "cloudfront_distribution_id" {
  description = "Distribution id, for invalidations after an app deploy (docs/deploy.md)."
  value       = aws_cloudfront_distribution.portal.id
}

output "app_bucket" {
  description = "The web app's bucket: aws s3 sync web/dist here (Terraform writes only config.json)."
  value       = aws_s3_bucket.app.bucket
}

output "api_origin_target" {
  description = "DNS target of api_origin_domain: a CNAME to domain_name, or a Route 53 alias (domain_name, hosted_zone_id)."
  value = {
    domain_name    = aws_apigatewayv2_domain_name.api_origin.domain_name_configuration[0].target_domain_name
    hosted_zone_id = aws_apigatewayv2_domain_name.api_origin.domain_name_configuration[0].hosted_zone_id
  }
}

output "waf_web_acl_arn" {
  description = "The distribution's WAF web ACL (us-east-1); its log group is aws-waf-logs-<prefix> there."
  value       = aws_wafv2_web_acl.portal.arn
}

output "edge_alarm_topic_arn" {
  description = "SNS topic in us-east-1 for alarms on WAF metrics (alarm_email is subscribed to it too)."
  value       = aws_sns_topic.edge_alarms.arn
}

output "documents_bucket" {
  description = "Customer documents bucket."
  value       = aws_s3_bucket.portal["documents"].bucket
}

output "exports_bucket" {
  description = "Finance exports bucket (EXPORT_BUCKET of the finance exporter)."
  value       = aws_s3_bucket.portal["exports"].bucket
}

output "function_names" {
  description = "Lambda function name per crate under functions/."
  value       = { for k, f in aws_lambda_function.function : k => f.function_name }
}

output "secret_arns" {
  description = "Secrets Manager secrets whose values are put out of band before the second apply (docs/deploy.md)."
  value = {
    session_keys    = aws_secretsmanager_secret.session_keys.arn
    token_hash_key  = aws_secretsmanager_secret.token_hash_key.arn
    unsubscribe_key = aws_secretsmanager_secret.unsubscribe_key.arn
  }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "ses_dns_records" {
  description = "Per brand domain: the DKIM CNAME tokens to publish (<token>._domainkey.<domain> CNAME <token>.dkim.amazonses.com)."
  value       = { for d, i in aws_sesv2_email_identity.brand : d => i.dkim_signing_attributes[0].tokens }
}

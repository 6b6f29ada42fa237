output "table_name" {
  description = "The portal's DynamoDB table (TABLE_NAME of every function)."
  value       = aws_dynamodb_table.portal.name
}

output "api_url" {
  description = "The HTTP API's base URL (customer, webhook and operator routes)."
  value       = aws_apigatewayv2_stage.default.invoke_url
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
    session_keys   = aws_secretsmanager_secret.session_keys.arn
    token_hash_key = aws_secretsmanager_secret.token_hash_key.arn
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

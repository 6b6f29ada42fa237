output "table_name" {
  description = "The portal's DynamoDB table (TABLE_NAME of every function)."
  value       = aws_dynamodb_table.portal.name
}

# Document regeneration (docs/documents.md): operator-bookings and the documents function's operator route
# queue `{reference, types, reason}`; the document-worker Lambda consumes the queue. A message that still fails
# after 5 receives is parked in the dead-letter queue (alarmed below) for a person to look at and redrive.

resource "aws_sqs_queue" "documents_dlq" {
  name                              = "${local.prefix}-documents-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "documents" {
  name = "${local.prefix}-documents"
  # Six times the worker's timeout (AWS's advice for Lambda consumers), so a slow batch is not redelivered
  # while it still runs.
  visibility_timeout_seconds        = 6 * 60
  message_retention_seconds         = 345600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.documents_dlq.arn
    maxReceiveCount     = 5
  })
}

# The worker reports per-message failures (SqsBatchResponse), so only failed messages are retried.
resource "aws_lambda_event_source_mapping" "document_worker" {
  event_source_arn                   = aws_sqs_queue.documents.arn
  function_name                      = aws_lambda_function.function["document-worker"].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 5
  function_response_types            = ["ReportBatchItemFailures"]
}

# What Lambda's poller needs on the worker's role (the worker's code itself never calls SQS).
data "aws_iam_policy_document" "document_worker_queue" {
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.documents.arn]
  }
}

resource "aws_iam_role_policy" "document_worker_queue" {
  name   = "queue"
  role   = aws_iam_role.function["document-worker"].id
  policy = data.aws_iam_policy_document.document_worker_queue.json
}

# Brand logos drawn in the documents' header (docs/documents.md "Branding"): each brand's logo_file uploaded to
# brands/<brand id>/logo.<ext> in the documents bucket; BRANDS_JSON names it as the brand's logo_key. The worker
# reads it once per container, so a changed file shows on documents rendered by new containers.
locals {
  brand_logos = {
    for id, b in var.brands : id => {
      file = b.logo_file
      ext  = regex("(png|jpe?g)$", lower(b.logo_file))[0]
      key  = "brands/${id}/logo.${regex("(png|jpe?g)$", lower(b.logo_file))[0]}"
    } if b.logo_file != null
  }
}

resource "aws_s3_object" "brand_logo" {
  for_each               = local.brand_logos
  bucket                 = aws_s3_bucket.portal["documents"].id
  key                    = each.value.key
  source                 = each.value.file
  source_hash            = filemd5(each.value.file)
  content_type           = each.value.ext == "png" ? "image/png" : "image/jpeg"
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.portal.arn
}

# The CJK fallback font of documents (shared/documents/fonts): 4 MB that few documents need, so it is not
# built into the worker; the first such document in a container fetches it (key and SHA-256 fixed in
# portal_documents::FALLBACK_FONT_KEY / FALLBACK_FONT_SHA256, so this must be the vendored file).
resource "aws_s3_object" "fallback_font" {
  bucket                 = aws_s3_bucket.portal["documents"].id
  key                    = "fonts/DroidSansFallbackFull.ttf"
  source                 = "${path.module}/../shared/documents/fonts/DroidSansFallbackFull.ttf"
  source_hash            = filemd5("${path.module}/../shared/documents/fonts/DroidSansFallbackFull.ttf")
  content_type           = "font/ttf"
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.portal.arn
}

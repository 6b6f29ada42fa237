# Two private buckets: customer documents (presigned downloads) and finance exports (NDJSON + manifests).
# Both: public access blocked, KMS encryption, versioning, lifecycle, TLS-only policy.

locals {
  buckets = {
    documents = {
      name = "${local.prefix}-documents-${local.account_id}"
      # Documents are regenerated on change; old versions kept 90 days.
      noncurrent_days = 90
    }
    exports = {
      name = "${local.prefix}-exports-${local.account_id}"
      # Finance reads exports for the accounting year; noncurrent versions (a rerun's overwrite) kept 400 days.
      noncurrent_days = 400
    }
  }
}

resource "aws_s3_bucket" "portal" {
  # checkov:skip=CKV_AWS_18:Server access logs would need a third bucket; object-level access is audited with CloudTrail data events at the account level.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a business-continuity decision per operator; versioning plus PITR on the table cover accidental deletion.
  # checkov:skip=CKV2_AWS_62:No consumer of event notifications is deployed here; finance subscribes per docs/finance.md.
  for_each      = local.buckets
  bucket        = each.value.name
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "portal" {
  for_each                = aws_s3_bucket.portal
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "portal" {
  for_each = aws_s3_bucket.portal
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "portal" {
  for_each = aws_s3_bucket.portal
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.portal.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "portal" {
  for_each = aws_s3_bucket.portal
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "portal" {
  for_each = aws_s3_bucket.portal
  bucket   = each.value.id

  rule {
    id     = "noncurrent-and-incomplete"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = local.buckets[each.key].noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.portal]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.portal

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
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
}

resource "aws_s3_bucket_policy" "portal" {
  for_each = aws_s3_bucket.portal
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.portal]
}

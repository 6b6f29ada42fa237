# One customer-managed key for the portal's data at rest: table, buckets, secrets, logs, topic, queue and the
# functions' environment. Rotated yearly by AWS.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  prefix     = "tour-portal-${var.environment}"
}

data "aws_iam_policy_document" "kms" {
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
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  # Services that write to the portal's encrypted topics and queue: alarms and SES feedback to SNS, failed
  # schedules to the dead-letter queue.
  statement {
    sid       = "ServicesPublishingToPortalTopicsAndQueues"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "ses.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "portal" {
  description             = "${local.prefix}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "portal" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.portal.key_id
}

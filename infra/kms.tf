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

  # Services that write to the portal's encrypted topics and queues: alarms and SES feedback to SNS, failed
  # schedules to the dead-letter queue, the SES feedback topic to the SES events queue (infra/notifications.tf).
  statement {
    sid       = "ServicesPublishingToPortalTopicsAndQueues"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "ses.amazonaws.com", "scheduler.amazonaws.com", "sns.amazonaws.com"]
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

# Traveller details (docs/traveller-details.md): the sensitive part of a traveller's details (document number,
# date of birth, medical notes) is sealed under its own key (shared/sealing: a KMS data key per value,
# AES-256-GCM). Unlike the portal key, this key's policy does not hand crypto operations to IAM: only the roles
# of the functions whose functions.tf permissions name {details_key} may GenerateDataKey or Decrypt, each with
# exactly those actions and only with the encryption context the sealing code binds (local.details_key_context);
# the account root administers the key but cannot use it, so no other role's IAM policy (not even
# kms:* on *) reaches the plaintext.
locals {
  # DETAILS_KMS_KEY_ID of the functions: the alias name, not the key ARN (local.functions feeds this key's
  # policy, so it cannot reference the key). GenerateDataKey accepts it; a sealed value records the key ARN
  # KMS answered with, which Decrypt then uses. An alias is authorised against the key it points to.
  details_key_alias = "alias/${local.prefix}-traveller-details"

  # The encryption context every seal and open carries (functions/traveller-details/src/vault.rs: details
  # and versions {reference, traveller, version}; a profile {reference = profile:<brand>, traveller = <profile
  # key>, version = profile}): `required` keys must be present, no key outside `allowed` may be.
  details_key_context = {
    required = ["reference", "traveller"]
    allowed  = ["reference", "traveller", "version"]
  }
  details_key_conditions = concat(
    [for k in local.details_key_context.required : { test = "Null", variable = "kms:EncryptionContext:${k}", values = ["false"] }],
    [{ test = "ForAllValues:StringEquals", variable = "kms:EncryptionContextKeys", values = local.details_key_context.allowed }],
  )

  # function => its statements on {details_key} (functions.tf), the only grants of this key.
  details_key_statements = {
    for name, f in local.functions : name => [for s in f.permissions : s.actions if contains(s.resources, "{details_key}")]
    if anytrue([for s in f.permissions : contains(s.resources, "{details_key}")])
  }
}

data "aws_iam_policy_document" "details_key" {
  # checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); the account root only administers it.
  # checkov:skip=CKV_AWS_111:As above: "*" in a key policy means this key only.
  # checkov:skip=CKV_AWS_356:As above: "*" in a key policy means this key only.

  # Administration only: no Encrypt, Decrypt, ReEncrypt, GenerateDataKey* or CreateGrant (a grant would hand
  # out Decrypt), so IAM policies cannot reach the values. PutKeyPolicy stays (without it the key could never
  # be managed again; KMS refuses a policy that locks its creator out) and is in CloudTrail like every call.
  statement {
    sid = "AccountAdministersOnly"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListKeyRotations",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RevokeGrant",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # One statement per function role with a {details_key} permission: its actions, only with the sealing context.
  dynamic "statement" {
    for_each = { for name, actions in local.details_key_statements : name => distinct(flatten(actions)) }
    content {
      sid       = "Seal${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      actions   = statement.value
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [aws_iam_role.function[statement.key].arn]
      }
      dynamic "condition" {
        for_each = local.details_key_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_kms_key" "details" {
  description             = "${local.prefix}: traveller details (sealed document numbers, dates of birth, medical notes)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.details_key.json
}

resource "aws_kms_alias" "details" {
  name          = local.details_key_alias
  target_key_id = aws_kms_key.details.key_id
}

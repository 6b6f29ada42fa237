# One SES domain identity per brand domain, with Easy DKIM (2048-bit), a custom MAIL FROM and the portal's
# configuration set as the identity's default, so every message the functions send is tracked without code
# naming the set. Bounces and complaints go to an SNS topic (subscribe the operator's mailbox or a suppression
# handler); SES's account-level suppression list stops repeat sends to those addresses.

locals {
  ses_domains = toset([for b in values(var.brands) : lower(b.domain)])
}

resource "aws_sesv2_configuration_set" "portal" {
  configuration_set_name = local.prefix

  delivery_options {
    tls_policy = "REQUIRE"
  }

  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = true
  }

  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"]
  }
}

resource "aws_sesv2_email_identity" "brand" {
  for_each               = local.ses_domains
  email_identity         = each.value
  configuration_set_name = aws_sesv2_configuration_set.portal.configuration_set_name

  dkim_signing_attributes {
    next_signing_key_length = "RSA_2048_BIT"
  }
}

resource "aws_sesv2_email_identity_mail_from_attributes" "brand" {
  for_each               = aws_sesv2_email_identity.brand
  email_identity         = each.value.email_identity
  behavior_on_mx_failure = "USE_DEFAULT_VALUE"
  mail_from_domain       = "mail.${each.value.email_identity}"
}

resource "aws_sns_topic" "ses_feedback" {
  name              = "${local.prefix}-ses-feedback"
  kms_master_key_id = aws_kms_key.portal.arn
}

data "aws_iam_policy_document" "ses_feedback" {
  statement {
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ses_feedback.arn]
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "ses_feedback" {
  arn    = aws_sns_topic.ses_feedback.arn
  policy = data.aws_iam_policy_document.ses_feedback.json
}

resource "aws_sesv2_configuration_set_event_destination" "feedback" {
  configuration_set_name = aws_sesv2_configuration_set.portal.configuration_set_name
  event_destination_name = "bounces-and-complaints"

  event_destination {
    enabled              = true
    matching_event_types = ["BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE"]

    sns_destination {
      topic_arn = aws_sns_topic.ses_feedback.arn
    }
  }
}

locals {
  # What ses:SendEmail is granted on: the brand identities and the configuration set they use.
  ses_sending_arns = concat(
    [for d in local.ses_domains : "arn:${local.partition}:ses:${var.region}:${local.account_id}:identity/${d}"],
    [aws_sesv2_configuration_set.portal.arn],
  )
}

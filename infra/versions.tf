terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "tour-portal"
      environment = var.environment
    }
  }
}

# CloudFront-scope resources (the WAF web ACL, its log group and key, alarms on its metrics) live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      project     = "tour-portal"
      environment = var.environment
    }
  }
}

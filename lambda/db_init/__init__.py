"""ShopPulse database initialiser: schema engine, CloudFormation custom resource and CLI."""

"""The ShopPulse database CDK app: network, database, proxy, initializer, monitoring, pipeline."""

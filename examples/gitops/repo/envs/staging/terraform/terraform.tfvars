# Lambda settings for staging
function_name = "orders-api-staging" # per environment
image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.4.2" # promoted by kargo
memory_size   = 512

tags = {
  env     = "staging"
  version = "1.4.2"
}

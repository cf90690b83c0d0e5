module edgerim.local/terraform-provider-docker

go 1.25.8

require github.com/terraform-providers/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4

replace github.com/terraform-providers/terraform-provider-docker => github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4

//go:build tools

// Package tools pins the kreuzwerker/docker Terraform provider so that
// `go build github.com/terraform-providers/terraform-provider-docker` builds it
// from the Go module proxy with the checksums in go.sum.
package tools

import _ "github.com/terraform-providers/terraform-provider-docker"

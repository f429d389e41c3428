package oss

import (
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// NewTestClient makes an aliyun-oss-go-sdk v3 client for a localcloud OSS endpoint such as
// http://127.0.0.1:PORT. It forces path style (so http://localhost:PORT works too) and sets
// the STS token when one is given; opts come last and override. For v4 signatures pass
// alioss.AuthVersion(alioss.AuthV4) and alioss.Region(region).
func NewTestClient(endpointURL, accessKeyID, secret, token string, opts ...alioss.ClientOption) (*alioss.Client, error) {
	all := []alioss.ClientOption{alioss.ForcePathStyle(true), alioss.Timeout(10, 30)}
	if token != "" {
		all = append(all, alioss.SecurityToken(token))
	}
	return alioss.New(endpointURL, accessKeyID, secret, append(all, opts...)...)
}

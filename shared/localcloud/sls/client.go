package sls

import (
	"context"
	"net"
	"net/http"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
)

// TestEndpoint is the endpoint NewTestClient gives the SDK. The SDK puts the project in front
// of it (p1.cn-hangzhou.log.aliyuncs.com), and DialingHTTPClient sends every connection to
// localcloud whatever the name, so no DNS entry is needed.
const TestEndpoint = "cn-hangzhou.log.aliyuncs.com"

// DialingHTTPClient is an HTTP client whose every connection goes to hostPort (localcloud's SLS
// listener), whatever host the URL names. Give it to sls.Client.HTTPClient,
// producer.ProducerConfig.HTTPClient or consumer.LogHubConfig.HTTPClient: the SDK always builds
// http://<project>.<endpoint>/..., which cannot resolve for an emulator endpoint.
//
// Under the race detector mind an SDK bug (v0.1.115): a Client whose RequestTimeOut or
// RetryTimeOut is zero sets them on first use without a lock, so the producer's I/O workers and
// the consumer's shard workers race when they start together. Clients from NewTestClient set
// both; for a producer, let one write complete before sending concurrently.
func DialingHTTPClient(hostPort string) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // environment proxies must not see emulator traffic
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, hostPort)
	}
	transport.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: transport, Timeout: 60 * time.Second}
}

// NewTestClient returns an aliyun-log-go-sdk client for localcloud's SLS at endpointHostPort
// (for example an httptest server's 127.0.0.1:PORT): endpoint TestEndpoint, the dialing
// HTTP client, and a short RetryTimeOut so a failing call returns in seconds, not 90.
// token is the STS SecurityToken, empty for long-lived keys. Set AuthVersion to
// slssdk.AuthV4 (with Region) on the result to sign with v4.
func NewTestClient(endpointHostPort, accessKeyID, secret, token string) *slssdk.Client {
	return &slssdk.Client{
		Endpoint:        TestEndpoint,
		AccessKeyID:     accessKeyID,
		AccessKeySecret: secret,
		SecurityToken:   token,
		RequestTimeOut:  60 * time.Second,
		RetryTimeOut:    2 * time.Second,
		HTTPClient:      DialingHTTPClient(endpointHostPort),
		Region:          "cn-hangzhou",
	}
}

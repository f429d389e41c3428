package backfill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	fc "github.com/alibabacloud-go/fc-20230330/v4/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// Environment variables the invoker reads.
const (
	// EnvFCEndpoint points InvokeFunction elsewhere than the regional FC endpoint: fchost's
	// control listener locally (http://127.0.0.1:PORT), or a VPC endpoint.
	EnvFCEndpoint = "AUDITWARDEN_FC_ENDPOINT"
	// EnvFunction names the backfill function (default "backfill").
	EnvFunction = "AUDITWARDEN_BACKFILL_FUNCTION"
)

// DefaultFunction is the backfill function's name in s.yaml.
const DefaultFunction = "backfill"

// Invoker starts a function asynchronously. The backfill worker uses it to continue before
// its deadline and Start uses it to enqueue one invocation per job.
type Invoker interface {
	InvokeAsync(ctx context.Context, function string, payload []byte) error
}

// FunctionName is the backfill function's name: AUDITWARDEN_BACKFILL_FUNCTION, else "backfill".
func FunctionName() string {
	if v := strings.TrimSpace(os.Getenv(EnvFunction)); v != "" {
		return v
	}
	return DefaultFunction
}

// FCInvoker calls Function Compute 3.0's InvokeFunction with x-fc-invocation-type: Async, through
// the official SDK (github.com/alibabacloud-go/fc-20230330/v4).
type FCInvoker struct {
	client   *fc.Client
	endpoint string
	attempts int
	backoff  time.Duration
}

// NewFCInvoker makes an invoker with the session's credentials. The endpoint is
// AUDITWARDEN_FC_ENDPOINT when set (fchost serves the same API), else the regional endpoint
// <account id>.<region>.fc.aliyuncs.com over HTTPS; the account id is the session's.
func NewFCInvoker(ctx context.Context, sess *cloud.Session) (*FCInvoker, error) {
	endpoint := strings.TrimSpace(os.Getenv(EnvFCEndpoint))
	if endpoint == "" {
		account, err := sess.CallerAccount(ctx)
		if err != nil {
			return nil, fmt.Errorf("fc invoker: the account of the regional endpoint: %w", err)
		}
		endpoint = "https://" + account + "." + sess.Endpoints().Region + ".fc.aliyuncs.com"
	}
	return NewFCInvokerAt(endpoint, sess.Endpoints().Region, sess.Credentials())
}

// NewFCInvokerAt makes an invoker for an explicit endpoint: a URL (http://host:port,
// https://host) or a bare host, which means HTTPS.
func NewFCInvokerAt(endpoint, region string, creds cloud.Credentials) (*FCInvoker, error) {
	protocol, host, err := splitEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if err := creds.Validate(); err != nil {
		return nil, fmt.Errorf("fc invoker: %w", err)
	}
	cfg := &openapi.Config{
		AccessKeyId:     tea.String(creds.AccessKeyID),
		AccessKeySecret: tea.String(creds.AccessKeySecret),
		Endpoint:        tea.String(host),
		Protocol:        tea.String(protocol),
		RegionId:        tea.String(region),
		ConnectTimeout:  tea.Int(5000),
		ReadTimeout:     tea.Int(20000),
		UserAgent:       tea.String(cloud.UserAgent),
	}
	if creds.SecurityToken != "" {
		cfg.SecurityToken = tea.String(creds.SecurityToken)
	}
	c, err := fc.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("fc invoker: client for %s: %w", endpoint, err)
	}
	return &FCInvoker{client: c, endpoint: protocol + "://" + host, attempts: 4, backoff: 200 * time.Millisecond}, nil
}

func splitEndpoint(endpoint string) (protocol, host string, err error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "", "", fmt.Errorf("fc invoker: %s is empty", EnvFCEndpoint)
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, perr := url.Parse(e)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", "", fmt.Errorf("fc invoker: endpoint %q must be http(s)://host[:port] or a host name", endpoint)
	}
	return u.Scheme, u.Host, nil
}

// Endpoint is where the invoker sends InvokeFunction.
func (i *FCInvoker) Endpoint() string { return i.endpoint }

// InvokeAsync queues one asynchronous invocation (FC answers 202 once it has stored the event).
// Throttling, 5xx and transport errors are retried a few times with backoff; the SDK itself
// never retries here.
func (i *FCInvoker) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	if function == "" {
		return errors.New("fc invoker: function name is empty")
	}
	if len(payload) > maxPayload {
		return fmt.Errorf("fc invoker: payload is %d bytes; an async invocation takes at most %d", len(payload), maxPayload)
	}
	var last error
	for attempt := 1; attempt <= i.attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fc invoker: %s: %w", function, err)
		}
		req := &fc.InvokeFunctionRequest{Body: bytes.NewReader(payload)}
		headers := &fc.InvokeFunctionHeaders{XFcInvocationType: tea.String("Async")}
		resp, err := i.client.InvokeFunctionWithOptions(tea.String(function), req, headers, &util.RuntimeOptions{})
		if err == nil {
			if c, ok := resp.Body.(io.Closer); ok {
				_ = c.Close()
			}
			return nil
		}
		last = err
		if !invokeRetryable(err) || attempt == i.attempts {
			break
		}
		t := time.NewTimer(i.backoff << (attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fc invoker: %s: %w (last error: %v)", function, ctx.Err(), last)
		case <-t.C:
		}
	}
	return fmt.Errorf("fc invoker: InvokeFunction %s (async) at %s: %w", function, i.endpoint, last)
}

// invokeRetryable: throttling, server faults and transport failures may pass on a retry.
func invokeRetryable(err error) bool {
	var se *tea.SDKError
	if errors.As(err, &se) {
		status := tea.IntValue(se.StatusCode)
		code := tea.StringValue(se.Code)
		switch {
		case status == 429 || status >= 500:
			return true
		case strings.Contains(code, "Throttl") || strings.Contains(code, "TooManyRequests") || code == "ResourceThrottled":
			return true
		case status == 0:
			// The SDK reports transport failures as SDKErrors without a status.
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne)
}

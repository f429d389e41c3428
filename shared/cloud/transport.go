package cloud

import (
	"context"
	"net"
	"net/http"
	"time"
)

// newTransport is the connection pool a Session's clients share. Many members are reached at
// once, so more idle connections per host are kept than net/http's default of 2.
func newTransport(connectTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 55 * time.Second // under SLS's and OSS's server-side idle timeouts
	return t
}

// opaqueTransport hides the *http.Transport from alibaba-cloud-sdk-go: the SDK type-asserts its
// transport on every call and rewrites DialContext and TLSClientConfig on it, which would race
// across the clients that share the pool. Behind this wrapper the SDK leaves it alone.
type opaqueTransport struct{ rt http.RoundTripper }

func (o opaqueTransport) RoundTrip(r *http.Request) (*http.Response, error) { return o.rt.RoundTrip(r) }

// SLSHTTPClient returns an HTTP client that dials dialAddr (host:port) whatever host a request
// names. The log SDK always sends to http://<project>.<endpoint>, which cannot resolve to an
// emulator; with this client the endpoint stays "<region>.log.aliyuncs.com" (so Host still
// carries the project) and the connection goes to localcloud. Connections are pooled per
// project host and reused. Proxies are ignored: a proxy would get the fake host name.
func SLSHTTPClient(dialAddr string) *http.Client {
	return slsHTTPClient(dialAddr, 5*time.Second, 60*time.Second)
}

func slsHTTPClient(dialAddr string, connectTimeout, timeout time.Duration) *http.Client {
	t := newTransport(connectTimeout)
	t.Proxy = nil
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, dialAddr)
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

package cloud_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
)

// fastRetry keeps retry tests quick: the behaviour under test is the same at any scale.
var fastRetry = cloud.RetryPolicy{MaxAttempts: 8, Base: time.Millisecond, Cap: 5 * time.Millisecond}

type world struct {
	w       *core.World
	clock   *core.ManualClock
	srv     *httptest.Server
	mgmt    *core.AccessKey
	members []string
	info    cloud.LocalcloudInfo
}

// newWorld stands up localcloud's STS and RAM over httptest with a directory of n members.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	f := &world{clock: core.NewManualClock(time.Now())}
	f.w = core.NewWorld("cn-hangzhou", f.clock)
	f.w.Mu.Lock()
	f.w.EnableDirectoryLocked(core.NewAccountID(), "mgmt")
	f.mgmt = f.w.NewAccessKeyLocked(f.w.ManagementAccountID, "")
	for i := 0; i < n; i++ {
		id := core.NewAccountID()
		m := f.w.AddAccountLocked(id, "member", "ResourceAccount")
		f.w.JoinDirectoryLocked(m, f.w.Directory.RootFolderID, "CreateSuccess", "created")
		f.members = append(f.members, id)
	}
	f.w.Mu.Unlock()
	rpc := core.NewRPCServer(f.w)
	rpc.Register(identity.STS())
	rpc.Register(identity.RAM())
	f.srv = httptest.NewServer(rpc)
	t.Cleanup(f.srv.Close)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	f.info = cloud.LocalcloudInfo{
		Region:              "cn-hangzhou",
		ManagementAccountID: f.w.ManagementAccountID,
		AccessKeyID:         f.mgmt.ID,
		AccessKeySecret:     f.mgmt.Secret,
		Endpoints: cloud.LocalcloudEndpoints{
			RPC: host, LogAudit: host + "/open-api", SLS: host, OSS: "http://" + host, Control: "http://" + host,
		},
	}
	return f
}

func (f *world) endpoints(t *testing.T) cloud.Endpoints {
	t.Helper()
	ep, err := f.info.ToEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (f *world) session(t *testing.T, opts ...cloud.Option) *cloud.Session {
	t.Helper()
	opts = append([]cloud.Option{cloud.WithClock(f.clock), cloud.WithRetryPolicy(fastRetry)}, opts...)
	s, err := cloud.NewSession(f.info.Credentials(), f.endpoints(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *world) calls(product, action string) int64 {
	c, _, _ := f.w.Stats.Sum(product, action)
	return c
}

// serve is an httptest server answering every request with h; it counts new connections.
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	conns := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

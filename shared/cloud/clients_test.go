package cloud_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	logaudit "github.com/aliyun/alibaba-cloud-sdk-go/services/sls"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// stsCreds are what a member session carries.
var stsCreds = cloud.Credentials{AccessKeyID: "STS.abcdefghijklmnop", AccessKeySecret: "s3cr3t-value", SecurityToken: "CAIStoken-value"}

// localEndpoints points every product at one test server.
func localEndpoints(t *testing.T, host string) cloud.Endpoints {
	t.Helper()
	ep, err := cloud.LocalcloudInfo{Region: "cn-hangzhou", Endpoints: cloud.LocalcloudEndpoints{
		RPC: host, LogAudit: host + "/open-api", SLS: host, OSS: "http://" + host,
	}}.ToEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	s.mu.Unlock()
}

func (s *seen) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func TestSLSClientDialsTheEmulatorWithTheProjectInHost(t *testing.T) {
	var got seen
	srv, conns := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.Header().Set("x-log-requestid", "REQ1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"errorCode":"ProjectNotExist","errorMessage":"The Project does not exist : p1"}`))
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	s, err := cloud.NewSession(stsCreds, localEndpoints(t, host))
	if err != nil {
		t.Fatal(err)
	}
	c := s.SLS()
	for i := 0; i < 3; i++ {
		_, err = c.GetProject("p1")
		if cloud.Classify(err) != cloud.NotFound || cloud.Code(err) != "ProjectNotExist" || cloud.Status(err) != 404 {
			t.Fatalf("GetProject: class %v code %q status %d (%v)", cloud.Classify(err), cloud.Code(err), cloud.Status(err), err)
		}
	}
	reqs := got.all()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Host != "p1.cn-hangzhou.log.aliyuncs.com" || r.Method != "GET" || r.URL.Path != "/" {
		t.Fatalf("request %s %s host %q", r.Method, r.URL.Path, r.Host)
	}
	if r.Header.Get("x-acs-security-token") != stsCreds.SecurityToken || !strings.HasPrefix(r.Header.Get("Authorization"), "LOG "+stsCreds.AccessKeyID+":") {
		t.Fatalf("credentials not sent: auth %q", r.Header.Get("Authorization"))
	}
	if !strings.Contains(r.Header.Get("User-Agent"), cloud.UserAgent) {
		t.Fatalf("User-Agent %q", r.Header.Get("User-Agent"))
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 sequential calls: not reused", n)
	}
}

func TestSLSHTTPClientIgnoresHostAndProxy(t *testing.T) {
	var got seen
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { got.add(r) })
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1") // would refuse every connection if used
	c := cloud.SLSHTTPClient(strings.TrimPrefix(srv.URL, "http://"))
	for _, u := range []string{"http://a.cn-hangzhou.log.aliyuncs.com/x", "http://b.cn-hangzhou.log.aliyuncs.com/y"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	reqs := got.all()
	if len(reqs) != 2 || reqs[0].Host != "a.cn-hangzhou.log.aliyuncs.com" || reqs[1].URL.Path != "/y" {
		t.Fatalf("requests %v", reqs)
	}
}

func TestOSSClientUsesPathStyleAndToken(t *testing.T) {
	var got seen
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.Header().Set("x-oss-request-id", "REQ2")
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist.</Message><RequestId>REQ2</RequestId><HostId>h</HostId><BucketName>audit-bkt</BucketName><EC>0015-00000101</EC></Error>`))
	})
	s, err := cloud.NewSession(stsCreds, localEndpoints(t, strings.TrimPrefix(srv.URL, "http://")))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OSS()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketInfo("audit-bkt")
	if cloud.Classify(err) != cloud.NotFound || cloud.Code(err) != "NoSuchBucket" {
		t.Fatalf("GetBucketInfo: class %v code %q (%v)", cloud.Classify(err), cloud.Code(err), err)
	}
	r := got.all()[0]
	if r.URL.Path != "/audit-bkt/" || r.URL.RawQuery != "bucketInfo" || r.Header.Get("x-oss-security-token") != stsCreds.SecurityToken {
		t.Fatalf("request %s?%s token %q", r.URL.Path, r.URL.RawQuery, r.Header.Get("x-oss-security-token"))
	}
}

func TestLogAuditClientKeepsTheOpenAPIPath(t *testing.T) {
	var got seen
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"RequestId":"R","Code":"AppNotExist","Message":"app audit does not exist"}`))
	})
	s, err := cloud.NewSession(stsCreds, localEndpoints(t, strings.TrimPrefix(srv.URL, "http://")))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.LogAudit()
	if err != nil {
		t.Fatal(err)
	}
	req := logaudit.CreateDescribeAppRequest()
	req.AppName = "audit"
	_, err = c.DescribeApp(req)
	if cloud.Classify(err) != cloud.NotFound || cloud.Code(err) != "AppNotExist" {
		t.Fatalf("DescribeApp: class %v code %q (%v)", cloud.Classify(err), cloud.Code(err), err)
	}
	r := got.all()[0]
	q := r.URL.Query()
	if r.URL.Path != "/open-api/" || q.Get("Action") != "DescribeApp" || q.Get("Version") != "2019-10-23" ||
		q.Get("SecurityToken") != stsCreds.SecurityToken || q.Get("AccessKeyId") != stsCreds.AccessKeyID || q.Get("RegionId") != "cn-hangzhou" {
		t.Fatalf("request %s?%s", r.URL.Path, r.URL.RawQuery)
	}
}

func TestRealEndpointClientsUseHTTPSAndTheRightDomains(t *testing.T) {
	ep, err := cloud.EndpointsForRegion("ap-southeast-1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "LTAIexample0000", AccessKeySecret: "x"}, ep)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := s.ResourceManager()
	at, _ := s.ActionTrail()
	st, _ := s.STS()
	rm2, _ := s.RAM()
	la, _ := s.LogAudit()
	for _, c := range []struct {
		domain, scheme, want string
	}{
		{rm.Domain, rm.GetConfig().Scheme, "resourcemanager.aliyuncs.com"},
		{at.Domain, at.GetConfig().Scheme, "actiontrail.ap-southeast-1.aliyuncs.com"},
		{st.Domain, st.GetConfig().Scheme, "sts.aliyuncs.com"},
		{rm2.Domain, rm2.GetConfig().Scheme, "ram.aliyuncs.com"},
		{la.Domain, la.GetConfig().Scheme, "ap-southeast-1.log.aliyuncs.com/open-api"},
	} {
		if c.domain != c.want || c.scheme != "HTTPS" {
			t.Errorf("client domain %q scheme %q, want %q over HTTPS", c.domain, c.scheme, c.want)
		}
	}
	// The Log Audit central region can differ from the function's region.
	ep.LogAudit = cloud.LogAuditDomain("cn-shanghai")
	s2, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "LTAIexample0000", AccessKeySecret: "x"}, ep)
	if err != nil {
		t.Fatal(err)
	}
	la2, _ := s2.LogAudit()
	if la2.Domain != "cn-shanghai.log.aliyuncs.com/open-api" {
		t.Errorf("log audit client domain %q", la2.Domain)
	}
	o, err := s.OSS()
	if err != nil {
		t.Fatal(err)
	}
	if o.Config.Endpoint != "https://oss-ap-southeast-1.aliyuncs.com" || o.Config.IsPathStyle {
		t.Errorf("oss endpoint %q path-style %v", o.Config.Endpoint, o.Config.IsPathStyle)
	}
}

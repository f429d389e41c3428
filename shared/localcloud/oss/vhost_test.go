package oss

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// TestVirtualHostedStyle keeps a real-looking endpoint (oss-cn-hangzhou.aliyuncs.com), so the
// SDKs put the bucket in the Host header, and dials the test server whatever the host.
func TestVirtualHostedStyle(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	const endpoint = "http://oss-" + region + ".aliyuncs.com"

	v3, err := alioss.New(endpoint, e.root.ID, e.root.Secret, alioss.HTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	v3v4, err := alioss.New(endpoint, e.root.ID, e.root.Secret, alioss.HTTPClient(hc), alioss.AuthVersion(alioss.AuthV4), alioss.Region(region))
	if err != nil {
		t.Fatal(err)
	}
	sdk2 := newV2(endpoint, e.root.ID, e.root.Secret, "", func(c *v2.Config) { c.WithHttpClient(hc) })

	for i, c := range []*alioss.Client{v3, v3v4} {
		b := "vhost-" + itoa(i) + "-" + strings.ToLower(e.mgmt[:6])
		if err := c.CreateBucket(b); err != nil {
			t.Fatalf("client %d CreateBucket: %v", i, err)
		}
		if err := e.put(c, b, "dir/a b.txt", "hello"); err != nil {
			t.Fatalf("client %d PutObject: %v", i, err)
		}
		if got, err := e.get(c, b, "dir/a b.txt"); err != nil || got != "hello" {
			t.Fatalf("client %d GetObject = %q, %v", i, got, err)
		}
		if got, ok := e.srv.Object(b, "dir/a b.txt"); !ok || string(got) != "hello" {
			t.Fatalf("stored under the wrong bucket or key: %q %v", got, ok)
		}
	}
	list, err := v3.ListBuckets()
	if err != nil || len(list.Buckets) != 2 {
		t.Fatalf("ListBuckets on the service host = %+v, %v", list, err)
	}
	r, err := sdk2.ListObjectsV2(ctx, &v2.ListObjectsV2Request{Bucket: v2.Ptr("vhost-0-" + strings.ToLower(e.mgmt[:6]))})
	if err != nil || len(r.Contents) != 1 || *r.Contents[0].Key != "dir/a b.txt" {
		t.Fatalf("sdk-v2 virtual-hosted ListObjectsV2 = %+v, %v", r, err)
	}
}

package oss

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// listKeys need URL encoding in listings: spaces, '+', '%', '&', slashes, unicode, and a
// key equal to a common prefix.
var listKeys = []string{
	"a b/1", "a b/2", "a+b", "a%20b", "dir/", "dir/x&y=z", "dir/sub/deep.txt", "dir/sub/other.txt",
	"z/日本/ファイル", "z/émoji 🎉", "top.txt", "~tilde",
}

func seedList(t *testing.T, e *env) string {
	t.Helper()
	b := e.bucket()
	for _, k := range listKeys {
		if err := e.srv.ServicePut(b, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func sorted(keys []string) []string {
	out := append([]string(nil), keys...)
	sort.Strings(out)
	return out
}

func TestListObjectsV2PaginationThroughSDKs(t *testing.T) {
	e := newEnv(t)
	b := seedList(t, e)
	want := strings.Join(sorted(listKeys), "|")
	for _, max := range []int{1, 2, 5, 1000} {
		t.Run("v3 max-keys "+itoa(max), func(t *testing.T) {
			bk := e.obucket(e.v1(e.root), b)
			var got []string
			token, pages := "", 0
			for {
				opts := []alioss.Option{alioss.MaxKeys(max)}
				if token != "" {
					opts = append(opts, alioss.ContinuationToken(token))
				}
				res, err := bk.ListObjectsV2(opts...)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(res.Objects) > max {
					t.Fatalf("page of %d > max-keys %d", len(res.Objects), max)
				}
				for _, o := range res.Objects {
					got = append(got, o.Key)
					if o.Size != int64(len(o.Key)) || !strings.HasPrefix(o.ETag, `"`) {
						t.Fatalf("object %+v", o)
					}
				}
				if !res.IsTruncated {
					break
				}
				token = res.NextContinuationToken
			}
			if strings.Join(got, "|") != want {
				t.Fatalf("keys\n got %q\nwant %q", got, sorted(listKeys))
			}
			if wantPages := (len(listKeys) + max - 1) / max; pages != wantPages {
				t.Fatalf("%d pages, want %d", pages, wantPages)
			}
		})
		t.Run("sdk-v2 paginator max-keys "+itoa(max), func(t *testing.T) {
			p := e.sdk2(e.root).NewListObjectsV2Paginator(&v2.ListObjectsV2Request{Bucket: v2.Ptr(b), MaxKeys: int32(max)})
			var got []string
			for p.HasNext() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page.Contents {
					got = append(got, *o.Key)
				}
			}
			if strings.Join(got, "|") != want {
				t.Fatalf("keys\n got %q\nwant %q", got, sorted(listKeys))
			}
		})
	}
}

func TestListObjectsDelimiterAndPrefix(t *testing.T) {
	e := newEnv(t)
	b := seedList(t, e)
	bk := e.obucket(e.v1(e.root), b)
	cases := []struct {
		name     string
		opts     []alioss.Option
		keys     []string
		prefixes []string
	}{
		{"root level", []alioss.Option{alioss.Delimiter("/")}, []string{"a%20b", "a+b", "top.txt", "~tilde"}, []string{"a b/", "dir/", "z/"}},
		{"under dir/", []alioss.Option{alioss.Prefix("dir/"), alioss.Delimiter("/")}, []string{"dir/", "dir/x&y=z"}, []string{"dir/sub/"}},
		{"prefix only", []alioss.Option{alioss.Prefix("z/")}, []string{"z/émoji 🎉", "z/日本/ファイル"}, nil},
		{"start-after", []alioss.Option{alioss.StartAfter("dir/sub/deep.txt")}, []string{"dir/sub/other.txt", "dir/x&y=z", "top.txt", "z/émoji 🎉", "z/日本/ファイル", "~tilde"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := bk.ListObjectsV2(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range res.Objects {
				keys = append(keys, o.Key)
			}
			if strings.Join(keys, "|") != strings.Join(sorted(tc.keys), "|") || strings.Join(res.CommonPrefixes, "|") != strings.Join(tc.prefixes, "|") {
				t.Fatalf("keys %q prefixes %q", keys, res.CommonPrefixes)
			}
		})
	}

	// Paging one entry at a time never repeats a common prefix.
	var seen []string
	token := ""
	for i := 0; i < 20; i++ {
		opts := []alioss.Option{alioss.Delimiter("/"), alioss.MaxKeys(1)}
		if token != "" {
			opts = append(opts, alioss.ContinuationToken(token))
		}
		res, err := bk.ListObjectsV2(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			seen = append(seen, o.Key)
		}
		seen = append(seen, res.CommonPrefixes...)
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
	}
	if strings.Join(sorted(seen), "|") != "a b/|a%20b|a+b|dir/|top.txt|z/|~tilde" {
		t.Fatalf("paged with delimiter: %q", seen)
	}
}

func TestListObjectsV1Marker(t *testing.T) {
	e := newEnv(t)
	b := seedList(t, e)
	bk := e.obucket(e.v1(e.root), b)
	var got []string
	marker := ""
	for {
		res, err := bk.ListObjects(alioss.MaxKeys(3), alioss.Marker(marker))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			got = append(got, o.Key)
			if o.Owner.ID != e.mgmt {
				t.Fatalf("v1 listing carries the owner: %+v", o.Owner)
			}
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	if strings.Join(got, "|") != strings.Join(sorted(listKeys), "|") {
		t.Fatalf("keys %q", got)
	}
	res, err := e.sdk2(e.root).ListObjects(ctx, &v2.ListObjectsRequest{Bucket: v2.Ptr(b), Prefix: v2.Ptr("a "), Delimiter: v2.Ptr("/")})
	if err != nil || len(res.CommonPrefixes) != 1 || *res.CommonPrefixes[0].Prefix != "a b/" {
		t.Fatalf("sdk-v2 ListObjects = %+v, %v", res, err)
	}
}

func TestListObjectsErrors(t *testing.T) {
	e := newEnv(t)
	b := seedList(t, e)
	cases := []struct {
		name, query, code string
		status            int
	}{
		{"max-keys too big", "?list-type=2&max-keys=1001", "InvalidArgument", 400},
		{"max-keys not a number", "?max-keys=ten", "InvalidArgument", 400},
		{"bad encoding", "?encoding-type=base64", "InvalidArgument", 400},
		{"bad token", "?list-type=2&continuation-token=%25%25", "InvalidArgument", 400},
		{"plain listing", "?list-type=2&prefix=a%20b%2F", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.raw(e.root, http.MethodGet, "/"+b+"/"+tc.query, nil, nil)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.code) {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
	// Without encoding-type the keys come back raw (XML-escaped only).
	resp := e.raw(e.root, http.MethodGet, "/"+b+"/?list-type=2&prefix=dir%2Fx", nil, nil)
	if body := readAll(t, resp.Body); !strings.Contains(body, "<Key>dir/x&amp;y=z</Key>") || strings.Contains(body, "EncodingType") {
		t.Fatalf("raw listing: %s", body)
	}
	_, err := e.obucket(e.v1(e.oroot), b).ListObjectsV2()
	svcErr(t, err, 403, "AccessDenied")
}

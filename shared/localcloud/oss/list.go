package oss

import (
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"sort"
	"strings"
)

// urlEncode is encoding-type=url as OSS applies it: query escaping with spaces as %20, which
// the SDKs' url.QueryUnescape turns back.
func urlEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Continuation tokens are opaque to clients: the base64 of the last key or common prefix
// returned. Standard base64 ('+', '/', '=') makes them exercise encoding-type=url too.
func encodeToken(marker string) string { return base64.StdEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	return string(b), err == nil
}

type contentXML struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Type         string    `xml:"Type"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *ownerXML `xml:"Owner,omitempty"`
}

type commonPrefixXML struct {
	Prefix string `xml:"Prefix"`
}

type listV1XML struct {
	XMLName        xml.Name          `xml:"ListBucketResult"`
	Name           string            `xml:"Name"`
	Prefix         string            `xml:"Prefix"`
	Marker         string            `xml:"Marker"`
	MaxKeys        int               `xml:"MaxKeys"`
	Delimiter      string            `xml:"Delimiter"`
	EncodingType   string            `xml:"EncodingType,omitempty"`
	IsTruncated    bool              `xml:"IsTruncated"`
	NextMarker     string            `xml:"NextMarker,omitempty"`
	Contents       []contentXML      `xml:"Contents"`
	CommonPrefixes []commonPrefixXML `xml:"CommonPrefixes"`
}

type listV2XML struct {
	XMLName               xml.Name          `xml:"ListBucketResult"`
	Name                  string            `xml:"Name"`
	Prefix                string            `xml:"Prefix"`
	StartAfter            string            `xml:"StartAfter,omitempty"`
	ContinuationToken     string            `xml:"ContinuationToken,omitempty"`
	MaxKeys               int               `xml:"MaxKeys"`
	Delimiter             string            `xml:"Delimiter"`
	EncodingType          string            `xml:"EncodingType,omitempty"`
	IsTruncated           bool              `xml:"IsTruncated"`
	NextContinuationToken string            `xml:"NextContinuationToken,omitempty"`
	KeyCount              int               `xml:"KeyCount"`
	Contents              []contentXML      `xml:"Contents"`
	CommonPrefixes        []commonPrefixXML `xml:"CommonPrefixes"`
}

// listing is one page of a bucket listing.
type listing struct {
	contents  []contentXML
	prefixes  []string
	truncated bool
	next      string // last key or common prefix returned, when truncated
}

// page lists keys after marker under prefix, rolling keys up to common prefixes at the
// delimiter. A common prefix at or before marker was returned already and is skipped whole.
// The caller holds s.mu.
func (b *bucket) page(prefix, delimiter, marker string, max int, withOwner bool) listing {
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > marker {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var l listing
	count, lastCP := 0, ""
	for _, k := range keys {
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				cp := k[:len(prefix)+i+len(delimiter)]
				if cp <= marker || cp == lastCP {
					continue
				}
				if count == max {
					l.truncated = true
					break
				}
				l.prefixes = append(l.prefixes, cp)
				lastCP, l.next = cp, cp
				count++
				continue
			}
		}
		if count == max {
			l.truncated = true
			break
		}
		o := b.objects[k]
		c := contentXML{
			Key: k, LastModified: o.lastModified.Format(apiTime), ETag: `"` + o.etag + `"`,
			Type: "Normal", Size: int64(len(o.data)), StorageClass: o.storageClass,
		}
		if withOwner {
			owner := ownerOf(b.owner)
			c.Owner = &owner
		}
		l.contents = append(l.contents, c)
		l.next = k
		count++
	}
	if !l.truncated {
		l.next = ""
	}
	return l
}

func (s *Server) listObjects(rq *request) *apiError {
	q := rq.query
	v2 := rq.op == "ListObjectsV2"
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return errInvalidArgument("The encoding-type is invalid: only url is supported.", "encoding-type", enc)
	}
	max, err := parseMaxKeys(q.Get("max-keys"), 100, 1000)
	if err != nil {
		return err
	}
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	marker := q.Get("marker")
	if v2 {
		marker = q.Get("start-after")
		if q.Has("continuation-token") {
			m, ok := decodeToken(q.Get("continuation-token"))
			if !ok {
				return errInvalidArgument("The continuation-token is invalid.", "continuation-token", q.Get("continuation-token"))
			}
			marker = m
		}
	}
	var l listing
	if err := func() *apiError {
		s.mu.RLock()
		defer s.mu.RUnlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		if err := s.authorize(rq, b, kindList, "", nil); err != nil {
			return err
		}
		l = b.page(prefix, delimiter, marker, max, !v2 || q.Get("fetch-owner") == "true")
		return nil
	}(); err != nil {
		return err
	}
	e := func(s string) string {
		if enc == "url" {
			return urlEncode(s)
		}
		return s
	}
	for i := range l.contents {
		l.contents[i].Key = e(l.contents[i].Key)
	}
	cps := make([]commonPrefixXML, len(l.prefixes))
	for i, p := range l.prefixes {
		cps[i] = commonPrefixXML{e(p)}
	}
	if !v2 {
		out := listV1XML{
			Name: rq.bucket, Prefix: e(prefix), Marker: e(marker), MaxKeys: max, Delimiter: e(delimiter),
			EncodingType: enc, IsTruncated: l.truncated, Contents: l.contents, CommonPrefixes: cps,
		}
		if l.truncated {
			out.NextMarker = e(l.next)
		}
		rq.writeXML(200, marshalXML(out))
		return nil
	}
	out := listV2XML{
		Name: rq.bucket, Prefix: e(prefix), StartAfter: e(q.Get("start-after")), ContinuationToken: e(q.Get("continuation-token")),
		MaxKeys: max, Delimiter: e(delimiter), EncodingType: enc, IsTruncated: l.truncated,
		KeyCount: len(l.contents) + len(cps), Contents: l.contents, CommonPrefixes: cps,
	}
	if l.truncated {
		out.NextContinuationToken = e(encodeToken(l.next))
	}
	rq.writeXML(200, marshalXML(out))
	return nil
}

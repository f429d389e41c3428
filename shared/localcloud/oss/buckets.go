package oss

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
)

// apiTime is the time layout of OSS XML documents.
const apiTime = "2006-01-02T15:04:05.000Z"

type ownerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func ownerOf(account string) ownerXML { return ownerXML{ID: account, DisplayName: account} }

func marshalXML(v any) []byte {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only fixed response types are marshalled here; failing is a programming error.
		panic(fmt.Sprintf("oss: marshal %T: %v", v, err))
	}
	return append([]byte(xml.Header), append(b, '\n')...)
}

func (s *Server) location(region string) string { return "oss-" + region }

// lookup finds the request's bucket and notes its owner. The caller holds s.mu.
func (s *Server) lookup(rq *request) (*bucket, *apiError) {
	b, ok := s.buckets[rq.bucket]
	if !ok {
		return nil, errNoSuchBucket(rq.bucket)
	}
	rq.owner = b.owner
	return b, nil
}

// managed runs fn on the request's bucket after checking the caller may manage it.
func (s *Server) managed(rq *request, kind accessKind, fn func(b *bucket) ([]byte, *apiError)) ([]byte, *apiError) {
	if rq.write {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	b, err := s.lookup(rq)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(rq, b, kind, "", nil); err != nil {
		return nil, err
	}
	return fn(b)
}

func anonymousForbidden() *apiError {
	return errAccessDenied("Anonymous access is forbidden for this operation.")
}

func (s *Server) putBucket(rq *request) *apiError {
	if rq.anon {
		return anonymousForbidden()
	}
	if err := checkBucketName(rq.bucket); err != nil {
		return err
	}
	acl := rq.r.Header.Get("x-oss-acl")
	if err := checkACL(acl); err != nil {
		return err
	}
	class, redundancy, err := decodeCreateBucket(rq.body)
	if err != nil {
		return err
	}
	if acl == "" {
		acl = "private"
	}
	rq.params["x-oss-acl"] = acl
	rq.params["storageClass"] = class
	rq.params["dataRedundancyType"] = redundancy

	s.mu.Lock()
	defer s.mu.Unlock()
	account := rq.caller.AccountID
	rq.recipient = account // a failed attempt on someone else's name is the caller's event
	if b, ok := s.buckets[rq.bucket]; ok {
		rq.owner = b.owner
		if b.owner != account {
			return newErr(409, "BucketAlreadyExists",
				"The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.").
				with("BucketName", rq.bucket).ec("0015-00000104")
		}
		// PutBucket is idempotent for the owner unless it tries to change what cannot change.
		switch {
		case b.storageClass != class:
			return newErr(409, "BucketAlreadyExists", "Bucket already exists can't modify storage type.").with("BucketName", rq.bucket)
		case b.redundancy != redundancy:
			return newErr(409, "BucketAlreadyExists", "Bucket already exists CAN'T modify data redundancy type.").with("BucketName", rq.bucket)
		}
		rq.w.Header().Set("Location", "/"+rq.bucket)
		rq.writeEmpty(200)
		return nil
	}
	n := 0
	for _, b := range s.buckets {
		if b.owner == account {
			n++
		}
	}
	if n >= maxBucketsPerAccount {
		return newErr(400, "TooManyBuckets", "You have attempted to create more buckets than allowed.")
	}
	if acl != "private" && s.accountBlock[account] {
		return errAccessDenied("Public access is blocked for this account: a public-read or public-read-write ACL is not allowed.")
	}
	s.buckets[rq.bucket] = &bucket{
		name: rq.bucket, owner: account, region: s.w.Region, created: s.w.Now(), acl: acl,
		storageClass: class, redundancy: redundancy, objects: map[string]*object{},
	}
	rq.owner = account
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.writeEmpty(200)
	return nil
}

func (s *Server) deleteBucket(rq *request) *apiError {
	_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
		if len(b.objects) > 0 {
			// With a locked retention policy the objects cannot be deleted either, so a
			// protected bucket can never be removed inside its period.
			return nil, newErr(409, "BucketNotEmpty", "The bucket has objects. Please delete them first.").
				with("BucketName", b.name).ec("0015-00000301")
		}
		delete(s.buckets, b.name)
		return nil, nil
	})
	if err != nil {
		return err
	}
	rq.writeEmpty(204)
	return nil
}

type listBucketsXML struct {
	XMLName     xml.Name           `xml:"ListAllMyBucketsResult"`
	Prefix      string             `xml:"Prefix,omitempty"`
	Marker      string             `xml:"Marker,omitempty"`
	MaxKeys     int                `xml:"MaxKeys,omitempty"`
	IsTruncated *bool              `xml:"IsTruncated,omitempty"`
	NextMarker  string             `xml:"NextMarker,omitempty"`
	Owner       ownerXML           `xml:"Owner"`
	Buckets     []bucketSummaryXML `xml:"Buckets>Bucket"`
}

type bucketSummaryXML struct {
	CreationDate     string `xml:"CreationDate"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
	Location         string `xml:"Location"`
	Name             string `xml:"Name"`
	Region           string `xml:"Region"`
	StorageClass     string `xml:"StorageClass"`
}

// listBuckets lists the caller account's buckets by name, with prefix, marker and max-keys.
func (s *Server) listBuckets(rq *request) *apiError {
	if rq.anon {
		return anonymousForbidden()
	}
	prefix, marker := rq.query.Get("prefix"), rq.query.Get("marker")
	max, err := parseMaxKeys(rq.query.Get("max-keys"), 100, 1000)
	if err != nil {
		return err
	}
	paged := rq.query.Has("prefix") || rq.query.Has("marker") || rq.query.Has("max-keys")
	s.mu.RLock()
	var names []string
	for name, b := range s.buckets {
		if b.owner == rq.caller.AccountID && strings.HasPrefix(name, prefix) && name > marker {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := listBucketsXML{Owner: ownerOf(rq.caller.AccountID)}
	truncated := len(names) > max
	if truncated {
		names = names[:max]
	}
	for _, name := range names {
		b := s.buckets[name]
		out.Buckets = append(out.Buckets, bucketSummaryXML{
			CreationDate: b.created.Format(apiTime), Location: s.location(b.region), Name: b.name, Region: b.region,
			ExtranetEndpoint: s.location(b.region) + ".aliyuncs.com", IntranetEndpoint: s.location(b.region) + "-internal.aliyuncs.com",
			StorageClass: b.storageClass,
		})
	}
	s.mu.RUnlock()
	if paged {
		out.Prefix, out.Marker, out.MaxKeys, out.IsTruncated = prefix, marker, max, &truncated
		if truncated && len(names) > 0 {
			out.NextMarker = names[len(names)-1]
		}
	}
	rq.writeXML(200, marshalXML(out))
	return nil
}

type bucketInfoXML struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		AccessMonitor          string   `xml:"AccessMonitor"`
		CreationDate           string   `xml:"CreationDate"`
		ExtranetEndpoint       string   `xml:"ExtranetEndpoint"`
		IntranetEndpoint       string   `xml:"IntranetEndpoint"`
		Location               string   `xml:"Location"`
		StorageClass           string   `xml:"StorageClass"`
		TransferAcceleration   string   `xml:"TransferAcceleration"`
		CrossRegionReplication string   `xml:"CrossRegionReplication"`
		Name                   string   `xml:"Name"`
		Owner                  ownerXML `xml:"Owner"`
		ACL                    string   `xml:"AccessControlList>Grant"`
		SSE                    struct {
			SSEAlgorithm      string  `xml:"SSEAlgorithm"`
			KMSMasterKeyID    *string `xml:"KMSMasterKeyID,omitempty"` // present (maybe empty) with KMS
			KMSDataEncryption string  `xml:"KMSDataEncryption,omitempty"`
		} `xml:"ServerSideEncryptionRule"`
		BucketPolicy struct {
			LogBucket string `xml:"LogBucket"`
			LogPrefix string `xml:"LogPrefix"`
		} `xml:"BucketPolicy"`
		DataRedundancyType string `xml:"DataRedundancyType"`
		Comment            string `xml:"Comment"`
		Versioning         string `xml:"Versioning,omitempty"`
		BlockPublicAccess  bool   `xml:"BlockPublicAccess"`
	} `xml:"Bucket"`
}

func (s *Server) getBucketInfo(rq *request) *apiError {
	body, err := s.managed(rq, kindBucketRead, func(b *bucket) ([]byte, *apiError) {
		var out bucketInfoXML
		x := &out.Bucket
		x.AccessMonitor, x.TransferAcceleration, x.CrossRegionReplication = "Disabled", "Disabled", "Disabled"
		x.CreationDate = b.created.Format(apiTime)
		x.Location = s.location(b.region)
		x.ExtranetEndpoint = x.Location + ".aliyuncs.com"
		x.IntranetEndpoint = x.Location + "-internal.aliyuncs.com"
		x.StorageClass, x.Name, x.Owner, x.ACL = b.storageClass, b.name, ownerOf(b.owner), b.acl
		x.SSE.SSEAlgorithm = "None"
		if e := b.encryption; e != nil {
			x.SSE.SSEAlgorithm, x.SSE.KMSDataEncryption = e.Algorithm, e.KMSDataEncryption
			if e.Algorithm == "KMS" {
				id := e.KMSMasterKeyID
				x.SSE.KMSMasterKeyID = &id
			}
		}
		if b.logging != nil {
			x.BucketPolicy.LogBucket, x.BucketPolicy.LogPrefix = b.logging.TargetBucket, b.logging.TargetPrefix
		}
		x.DataRedundancyType = b.redundancy
		x.BlockPublicAccess = b.blockPub
		return marshalXML(out), nil
	})
	if err != nil {
		return err
	}
	rq.writeXML(200, body)
	return nil
}

func (s *Server) getBucketLocation(rq *request) *apiError {
	body, err := s.managed(rq, kindBucketRead, func(b *bucket) ([]byte, *apiError) {
		return marshalXML(struct {
			XMLName  xml.Name `xml:"LocationConstraint"`
			Location string   `xml:",chardata"`
		}{Location: s.location(b.region)}), nil
	})
	if err != nil {
		return err
	}
	rq.writeXML(200, body)
	return nil
}

func (s *Server) getBucketStat(rq *request) *apiError {
	body, err := s.managed(rq, kindBucketRead, func(b *bucket) ([]byte, *apiError) {
		var size int64
		var last time.Time
		for _, o := range b.objects {
			size += int64(len(o.data))
			if o.lastModified.After(last) {
				last = o.lastModified
			}
		}
		var lastUnix int64
		if !last.IsZero() {
			lastUnix = last.Unix()
		}
		return marshalXML(struct {
			XMLName          xml.Name `xml:"BucketStat"`
			Storage          int64    `xml:"Storage"`
			ObjectCount      int      `xml:"ObjectCount"`
			MultipartUpload  int      `xml:"MultipartUploadCount"`
			LiveChannelCount int      `xml:"LiveChannelCount"`
			LastModifiedTime int64    `xml:"LastModifiedTime"`
			StandardStorage  int64    `xml:"StandardStorage"`
			StandardObjects  int      `xml:"StandardObjectCount"`
		}{Storage: size, ObjectCount: len(b.objects), LastModifiedTime: lastUnix, StandardStorage: size, StandardObjects: len(b.objects)}), nil
	})
	if err != nil {
		return err
	}
	rq.writeXML(200, body)
	return nil
}

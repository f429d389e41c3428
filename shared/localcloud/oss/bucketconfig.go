package oss

import (
	"encoding/xml"
	"net/http"
	"strings"
)

func (s *Server) bucketACL(rq *request) *apiError {
	if rq.op == "GetBucketAcl" {
		body, err := s.managed(rq, kindBucketRead, func(b *bucket) ([]byte, *apiError) {
			return marshalXML(struct {
				XMLName xml.Name `xml:"AccessControlPolicy"`
				Owner   ownerXML `xml:"Owner"`
				Grant   string   `xml:"AccessControlList>Grant"`
			}{Owner: ownerOf(b.owner), Grant: b.acl}), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil
	}
	acl := rq.r.Header.Get("x-oss-acl")
	rq.params["acl"] = acl
	rq.params["x-oss-acl"] = acl
	if acl == "" {
		return errInvalidArgument("no such bucket access control exists", "x-oss-acl", "")
	}
	if err := checkACL(acl); err != nil {
		return err
	}
	_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
		if acl != "private" && (b.blockPub || s.accountBlock[b.owner]) {
			return nil, errAccessDenied("Public access is blocked for this bucket: a public-read or public-read-write ACL is not allowed.")
		}
		b.acl = acl
		return nil, nil
	})
	if err != nil {
		return err
	}
	rq.writeEmpty(200)
	return nil
}

func (s *Server) bucketPolicy(rq *request) *apiError {
	switch rq.op {
	case "GetBucketPolicy":
		var doc string
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if b.policy == nil {
				return nil, newErr(404, "NoSuchBucketPolicy", "The specified bucket policy does not exist.").with("BucketName", b.name)
			}
			doc = b.policyDoc
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.commonHeaders()
		rq.w.Header().Set("Content-Type", "application/json")
		rq.w.Header().Set("Content-Length", itoa(len(doc)))
		rq.status = 200
		rq.w.WriteHeader(200)
		n, _ := rq.w.Write([]byte(doc))
		rq.bytesOut += int64(n)
		return nil
	case "PutBucketPolicy":
		rq.params["policy"] = string(rq.body)
		p, perr := parsePolicy(rq.body, rq.bucket)
		if perr != nil {
			return newErr(400, "InvalidPolicyDocument", "Invalid Policy: "+perr.Error())
		}
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if p.hasPublic() && (b.blockPub || s.accountBlock[b.owner]) {
				return nil, errAccessDenied(`Public access is blocked for this bucket: a policy granting Principal "*" without conditions is not allowed.`)
			}
			b.policy, b.policyDoc = p, string(rq.body)
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.writeEmpty(200)
		return nil
	}
	return s.update(rq, 204, func(b *bucket) {
		b.policy, b.policyDoc = nil, ""
	})
}

type loggingXML struct {
	XMLName        xml.Name `xml:"BucketLoggingStatus"`
	LoggingEnabled *struct {
		TargetBucket string `xml:"TargetBucket"`
		TargetPrefix string `xml:"TargetPrefix"`
	} `xml:"LoggingEnabled,omitempty"`
}

func (s *Server) bucketLogging(rq *request) *apiError {
	switch rq.op {
	case "GetBucketLogging":
		body, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			var out loggingXML
			if b.logging != nil {
				out.LoggingEnabled = &struct {
					TargetBucket string `xml:"TargetBucket"`
					TargetPrefix string `xml:"TargetPrefix"`
				}{b.logging.TargetBucket, b.logging.TargetPrefix}
			}
			return marshalXML(out), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil
	case "PutBucketLogging":
		cfg, derr := decodeLogging(rq.body)
		if derr != nil {
			return derr
		}
		if cfg != nil {
			rq.params["targetBucket"], rq.params["targetPrefix"] = cfg.TargetBucket, cfg.TargetPrefix
		}
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if cfg != nil {
				t, ok := s.buckets[cfg.TargetBucket]
				switch {
				case !ok:
					return nil, newErr(400, "InvalidTargetBucketForLogging", "The target bucket for logging does not exist").
						with("TargetBucket", cfg.TargetBucket)
				case t.owner != b.owner:
					return nil, newErr(400, "InvalidTargetBucketForLogging", "The target bucket for logging is not owned by the same user").
						with("TargetBucket", cfg.TargetBucket)
				case t.region != b.region:
					return nil, newErr(400, "InvalidTargetBucketForLogging", "The target bucket for logging is not in the same region").
						with("TargetBucket", cfg.TargetBucket)
				}
			}
			b.logging = cfg
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.writeEmpty(200)
		return nil
	}
	return s.update(rq, 204, func(b *bucket) {
		b.logging = nil
	})
}

type encryptionXML struct {
	XMLName xml.Name `xml:"ServerSideEncryptionRule"`
	Default struct {
		SSEAlgorithm      string `xml:"SSEAlgorithm"`
		KMSMasterKeyID    string `xml:"KMSMasterKeyID,omitempty"`
		KMSDataEncryption string `xml:"KMSDataEncryption,omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
}

func (s *Server) bucketEncryption(rq *request) *apiError {
	switch rq.op {
	case "GetBucketEncryption":
		body, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if b.encryption == nil {
				return nil, newErr(404, "NoSuchServerSideEncryptionRule", "The server side encryption configuration was not found").
					with("BucketName", b.name)
			}
			var out encryptionXML
			out.Default.SSEAlgorithm = b.encryption.Algorithm
			out.Default.KMSMasterKeyID = b.encryption.KMSMasterKeyID
			out.Default.KMSDataEncryption = b.encryption.KMSDataEncryption
			return marshalXML(out), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil
	case "PutBucketEncryption":
		cfg, derr := decodeEncryption(rq.body)
		if derr != nil {
			return derr
		}
		rq.params["SSEAlgorithm"] = cfg.Algorithm
		if cfg.KMSMasterKeyID != "" {
			rq.params["KMSMasterKeyID"] = cfg.KMSMasterKeyID
		}
		return s.update(rq, 200, func(b *bucket) {
			b.encryption = cfg
		})
	}
	return s.update(rq, 204, func(b *bucket) {
		b.encryption = nil
	})
}

func (s *Server) bucketLifecycle(rq *request) *apiError {
	switch rq.op {
	case "GetBucketLifecycle":
		body, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if b.lifecycle == nil {
				return nil, newErr(404, "NoSuchLifecycle", "No Row found in Lifecycle Table.").with("BucketName", b.name)
			}
			return lifecycleXML(b.lifecycle), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil
	case "PutBucketLifecycle":
		cfg, derr := decodeLifecycle(rq.body)
		if derr != nil {
			return derr
		}
		rq.params["rules"] = len(cfg.Rules)
		return s.update(rq, 200, func(b *bucket) {
			b.lifecycle = cfg
		})
	}
	return s.update(rq, 204, func(b *bucket) {
		b.lifecycle = nil
	})
}

// lifecycleXML returns the rules as sent; OSS names rules without an ID, so one is added.
func lifecycleXML(c *lifecycleConfig) []byte {
	var b strings.Builder
	b.WriteString(xml.Header + "<LifecycleConfiguration>\n")
	for i, r := range c.Rules {
		b.WriteString("  <Rule>")
		if r.ID == "" {
			b.WriteString("<ID>rule" + itoa(i+1) + "</ID>")
		}
		b.WriteString(r.Inner)
		b.WriteString("</Rule>\n")
	}
	b.WriteString("</LifecycleConfiguration>\n")
	return []byte(b.String())
}

func publicAccessBlockXML(block bool) []byte {
	return marshalXML(struct {
		XMLName xml.Name `xml:"PublicAccessBlockConfiguration"`
		Block   bool     `xml:"BlockPublicAccess"`
	}{Block: block})
}

func (s *Server) bucketPublicAccessBlock(rq *request) *apiError {
	switch rq.op {
	case "GetBucketPublicAccessBlock":
		body, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			return publicAccessBlockXML(b.blockPub), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil
	case "PutBucketPublicAccessBlock":
		block, derr := decodePublicAccessBlock(rq.body)
		if derr != nil {
			return derr
		}
		rq.params["blockPublicAccess"] = block
		return s.update(rq, 200, func(b *bucket) {
			b.blockPub = block
		})
	}
	return s.update(rq, 204, func(b *bucket) {
		b.blockPub = false
	})
}

// accountPublicAccessBlock is the account-level switch (no bucket in the request).
func (s *Server) accountPublicAccessBlock(rq *request) *apiError {
	if rq.anon {
		return anonymousForbidden()
	}
	account := rq.caller.AccountID
	switch rq.op {
	case "GetPublicAccessBlock":
		s.mu.RLock()
		block := s.accountBlock[account]
		s.mu.RUnlock()
		rq.writeXML(200, publicAccessBlockXML(block))
		return nil
	case "PutPublicAccessBlock":
		block, derr := decodePublicAccessBlock(rq.body)
		if derr != nil {
			return derr
		}
		rq.params["blockPublicAccess"] = block
		s.mu.Lock()
		s.accountBlock[account] = block
		s.mu.Unlock()
		rq.writeEmpty(200)
		return nil
	}
	s.mu.Lock()
	delete(s.accountBlock, account)
	s.mu.Unlock()
	rq.writeEmpty(http.StatusNoContent)
	return nil
}

// update changes a bucket the caller may manage and answers with an empty body.
func (s *Server) update(rq *request, status int, change func(b *bucket)) *apiError {
	_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
		change(b)
		return nil, nil
	})
	if err != nil {
		return err
	}
	rq.writeEmpty(status)
	return nil
}

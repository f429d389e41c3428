package oss

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Decoders of request bodies and headers. Each returns an *apiError naming the field and the
// rule it breaks, never panics, and is fuzzed (fuzz_test.go).

func decodeXML(body []byte, v any, root string) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return errMalformedXML(root + ": the request body is empty")
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return errMalformedXML(root + ": " + err.Error())
	}
	return nil
}

var (
	storageClasses   = setOf("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive")
	redundancyTypes  = setOf("LRS", "ZRS")
	bucketACLs       = setOf("private", "public-read", "public-read-write")
	transitionTarget = setOf("IA", "Archive", "ColdArchive", "DeepColdArchive")
)

// decodeCreateBucket reads the optional CreateBucketConfiguration of PutBucket.
func decodeCreateBucket(body []byte) (storageClass, redundancy string, err *apiError) {
	storageClass, redundancy = "Standard", "LRS"
	if len(bytes.TrimSpace(body)) == 0 {
		return storageClass, redundancy, nil
	}
	var c struct {
		XMLName            xml.Name `xml:"CreateBucketConfiguration"`
		StorageClass       string   `xml:"StorageClass"`
		DataRedundancyType string   `xml:"DataRedundancyType"`
	}
	if err := decodeXML(body, &c, "CreateBucketConfiguration"); err != nil {
		return "", "", err
	}
	if c.StorageClass != "" {
		if !storageClasses[c.StorageClass] {
			return "", "", errInvalidArgument("No such bucket storage class exists.", "StorageClass", c.StorageClass)
		}
		storageClass = c.StorageClass
	}
	if c.DataRedundancyType != "" {
		if !redundancyTypes[c.DataRedundancyType] {
			return "", "", errInvalidArgument("DataRedundancyType must be LRS or ZRS.", "DataRedundancyType", c.DataRedundancyType)
		}
		redundancy = c.DataRedundancyType
	}
	return storageClass, redundancy, nil
}

// checkACL validates an x-oss-acl value; empty means "not given".
func checkACL(acl string) *apiError {
	if acl != "" && !bucketACLs[acl] {
		return errInvalidArgument("no such bucket access control exists", "x-oss-acl", acl)
	}
	return nil
}

// LoggingConfig is a bucket's access-log destination.
type LoggingConfig struct {
	TargetBucket string
	TargetPrefix string
}

// decodeLogging reads BucketLoggingStatus; an empty one (no LoggingEnabled) turns logging off
// and yields nil.
func decodeLogging(body []byte) (*LoggingConfig, *apiError) {
	var c struct {
		XMLName        xml.Name `xml:"BucketLoggingStatus"`
		LoggingEnabled *struct {
			TargetBucket string `xml:"TargetBucket"`
			TargetPrefix string `xml:"TargetPrefix"`
		} `xml:"LoggingEnabled"`
	}
	if err := decodeXML(body, &c, "BucketLoggingStatus"); err != nil {
		return nil, err
	}
	if c.LoggingEnabled == nil {
		return nil, nil
	}
	if c.LoggingEnabled.TargetBucket == "" {
		return nil, errMalformedXML("LoggingEnabled.TargetBucket: required")
	}
	if len(c.LoggingEnabled.TargetPrefix) > 32 {
		return nil, errInvalidArgument("TargetPrefix must be at most 32 characters.", "TargetPrefix", c.LoggingEnabled.TargetPrefix)
	}
	return &LoggingConfig{TargetBucket: c.LoggingEnabled.TargetBucket, TargetPrefix: c.LoggingEnabled.TargetPrefix}, nil
}

// EncryptionConfig is a bucket's default server-side encryption.
type EncryptionConfig struct {
	Algorithm         string // AES256 | KMS | SM4
	KMSMasterKeyID    string
	KMSDataEncryption string // SM4 or empty
}

func decodeEncryption(body []byte) (*EncryptionConfig, *apiError) {
	var c struct {
		XMLName xml.Name `xml:"ServerSideEncryptionRule"`
		Default *struct {
			SSEAlgorithm      string `xml:"SSEAlgorithm"`
			KMSMasterKeyID    string `xml:"KMSMasterKeyID"`
			KMSDataEncryption string `xml:"KMSDataEncryption"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
	}
	if err := decodeXML(body, &c, "ServerSideEncryptionRule"); err != nil {
		return nil, err
	}
	if c.Default == nil {
		return nil, errMalformedXML("ApplyServerSideEncryptionByDefault: required")
	}
	d := c.Default
	switch d.SSEAlgorithm {
	case "AES256", "KMS", "SM4":
	default:
		return nil, newErr(400, "InvalidEncryptionAlgorithmError",
			"The Encryption request you specified is not valid. Supported value: AES256/KMS/SM4.").
			with("ArgumentName", "SSEAlgorithm").with("ArgumentValue", d.SSEAlgorithm)
	}
	if d.KMSMasterKeyID != "" && d.SSEAlgorithm != "KMS" {
		return nil, errInvalidArgument("KMSMasterKeyID is not applicable if the default sse algorithm is not KMS.", "KMSMasterKeyID", d.KMSMasterKeyID)
	}
	if d.KMSDataEncryption != "" && (d.KMSDataEncryption != "SM4" || d.SSEAlgorithm != "KMS") {
		return nil, errInvalidArgument("KMSDataEncryption must be SM4 and needs SSEAlgorithm KMS.", "KMSDataEncryption", d.KMSDataEncryption)
	}
	return &EncryptionConfig{Algorithm: d.SSEAlgorithm, KMSMasterKeyID: d.KMSMasterKeyID, KMSDataEncryption: d.KMSDataEncryption}, nil
}

type lifecycleConfig struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration"`
	Rules   []lifecycleRule `xml:"Rule"`
}

type lifecycleDate struct {
	Days              *int   `xml:"Days"`
	CreatedBeforeDate string `xml:"CreatedBeforeDate"`
	Date              string `xml:"Date"`
}

type lifecycleRule struct {
	ID         string  `xml:"ID"`
	Prefix     *string `xml:"Prefix"`
	Status     string  `xml:"Status"`
	Expiration *struct {
		lifecycleDate
		ExpiredObjectDeleteMarker *bool `xml:"ExpiredObjectDeleteMarker"`
	} `xml:"Expiration"`
	Transitions []struct {
		lifecycleDate
		StorageClass string `xml:"StorageClass"`
	} `xml:"Transition"`
	AbortMultipartUpload *lifecycleDate `xml:"AbortMultipartUpload"`
	NoncurrentExpiration *struct {
		NoncurrentDays int `xml:"NoncurrentDays"`
	} `xml:"NoncurrentVersionExpiration"`
	NoncurrentTransitions []struct {
		NoncurrentDays int    `xml:"NoncurrentDays"`
		StorageClass   string `xml:"StorageClass"`
	} `xml:"NoncurrentVersionTransition"`
	// Inner keeps the rule as sent so GetBucketLifecycle returns every element, including
	// the ones (Tag, Filter, ...) localcloud does not interpret.
	Inner string `xml:",innerxml"`
}

// checkWhen validates a Days / CreatedBeforeDate / Date choice: exactly one, Days positive,
// dates ISO 8601 at midnight UTC as OSS requires.
func checkWhen(field string, d lifecycleDate, allowDate bool) *apiError {
	n := 0
	if d.Days != nil {
		n++
		if *d.Days <= 0 {
			return errInvalidArgument(field+".Days must be a positive integer.", field+".Days", strconv.Itoa(*d.Days))
		}
	}
	for name, v := range map[string]string{"CreatedBeforeDate": d.CreatedBeforeDate, "Date": d.Date} {
		if v == "" {
			continue
		}
		if name == "Date" && !allowDate {
			return errMalformedXML(field + ".Date: not allowed here")
		}
		n++
		t, err := time.Parse("2006-01-02T15:04:05.000Z", v)
		if err != nil || t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			return errInvalidArgument(field+"."+name+" must be an ISO 8601 date at midnight UTC, such as 2024-01-01T00:00:00.000Z.", field+"."+name, v)
		}
	}
	if n != 1 {
		return errMalformedXML(field + ": exactly one of Days, CreatedBeforeDate or Date is required")
	}
	return nil
}

func decodeLifecycle(body []byte) (*lifecycleConfig, *apiError) {
	var c lifecycleConfig
	if err := decodeXML(body, &c, "LifecycleConfiguration"); err != nil {
		return nil, err
	}
	if len(c.Rules) == 0 || len(c.Rules) > 1000 {
		return nil, errMalformedXML("LifecycleConfiguration.Rule: between 1 and 1000 rules are required")
	}
	ids := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		field := fmt.Sprintf("Rule[%d]", i)
		if len(r.ID) > 255 {
			return nil, errInvalidArgument(field+".ID must be at most 255 characters.", "ID", r.ID)
		}
		if r.ID != "" {
			if ids[r.ID] {
				return nil, errInvalidArgument(field+".ID must be unique.", "ID", r.ID)
			}
			ids[r.ID] = true
		}
		if r.Prefix != nil && !utf8.ValidString(*r.Prefix) {
			return nil, errInvalidArgument(field+".Prefix must be UTF-8.", "Prefix", "")
		}
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return nil, errMalformedXML(field + ".Status: must be Enabled or Disabled")
		}
		actions := 0
		if r.Expiration != nil {
			actions++
			if r.Expiration.ExpiredObjectDeleteMarker == nil {
				if err := checkWhen(field+".Expiration", r.Expiration.lifecycleDate, true); err != nil {
					return nil, err
				}
			}
		}
		for j, t := range r.Transitions {
			actions++
			tf := fmt.Sprintf("%s.Transition[%d]", field, j)
			if err := checkWhen(tf, t.lifecycleDate, false); err != nil {
				return nil, err
			}
			if !transitionTarget[t.StorageClass] {
				return nil, errInvalidArgument(tf+".StorageClass must be IA, Archive, ColdArchive or DeepColdArchive.", "StorageClass", t.StorageClass)
			}
		}
		if r.AbortMultipartUpload != nil {
			actions++
			if err := checkWhen(field+".AbortMultipartUpload", *r.AbortMultipartUpload, false); err != nil {
				return nil, err
			}
		}
		if r.NoncurrentExpiration != nil {
			actions++
			if r.NoncurrentExpiration.NoncurrentDays <= 0 {
				return nil, errInvalidArgument(field+".NoncurrentVersionExpiration.NoncurrentDays must be positive.", "NoncurrentDays", strconv.Itoa(r.NoncurrentExpiration.NoncurrentDays))
			}
		}
		for _, t := range r.NoncurrentTransitions {
			actions++
			if t.NoncurrentDays <= 0 || !transitionTarget[t.StorageClass] {
				return nil, errInvalidArgument(field+".NoncurrentVersionTransition needs positive NoncurrentDays and a colder StorageClass.", "NoncurrentVersionTransition", t.StorageClass)
			}
		}
		if actions == 0 {
			return nil, errMalformedXML(field + ": at least one of Expiration, Transition, AbortMultipartUpload or NoncurrentVersion* is required")
		}
	}
	return &c, nil
}

// decodeWormDays reads RetentionPeriodInDays from InitiateWormConfiguration or
// ExtendWormConfiguration (root); OSS allows 1 to 25550 days (70 years).
func decodeWormDays(body []byte, root string) (int, *apiError) {
	var c struct {
		XMLName xml.Name
		Days    *string `xml:"RetentionPeriodInDays"`
	}
	if err := decodeXML(body, &c, root); err != nil {
		return 0, err
	}
	if c.XMLName.Local != root {
		return 0, errMalformedXML(fmt.Sprintf("root element must be %s, not %s", root, c.XMLName.Local))
	}
	if c.Days == nil {
		return 0, errMalformedXML(root + ".RetentionPeriodInDays: required")
	}
	n, err := strconv.Atoi(strings.TrimSpace(*c.Days))
	if err != nil || n < 1 || n > 25550 {
		return 0, errInvalidArgument("RetentionPeriodInDays must be an integer from 1 to 25550.", "RetentionPeriodInDays", *c.Days)
	}
	return n, nil
}

// decodePublicAccessBlock reads PublicAccessBlockConfiguration.BlockPublicAccess.
func decodePublicAccessBlock(body []byte) (bool, *apiError) {
	var c struct {
		XMLName xml.Name `xml:"PublicAccessBlockConfiguration"`
		Block   *string  `xml:"BlockPublicAccess"`
	}
	if err := decodeXML(body, &c, "PublicAccessBlockConfiguration"); err != nil {
		return false, err
	}
	if c.Block == nil {
		return false, errMalformedXML("PublicAccessBlockConfiguration.BlockPublicAccess: required")
	}
	switch strings.TrimSpace(*c.Block) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errMalformedXML("PublicAccessBlockConfiguration.BlockPublicAccess: must be true or false")
}

// decodeDelete reads a DeleteMultipleObjects body: 1 to 1000 non-empty keys.
func decodeDelete(body []byte) (keys []string, quiet bool, err *apiError) {
	var c struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   string   `xml:"Quiet"`
		Objects []struct {
			Key *string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := decodeXML(body, &c, "Delete"); err != nil {
		return nil, false, err
	}
	switch strings.TrimSpace(c.Quiet) {
	case "", "false":
	case "true":
		quiet = true
	default:
		return nil, false, errMalformedXML("Delete.Quiet: must be true or false")
	}
	if len(c.Objects) == 0 || len(c.Objects) > 1000 {
		return nil, false, errMalformedXML("Delete.Object: between 1 and 1000 objects are required")
	}
	for i, o := range c.Objects {
		if o.Key == nil || *o.Key == "" {
			return nil, false, errMalformedXML(fmt.Sprintf("Delete.Object[%d].Key: required", i))
		}
		keys = append(keys, *o.Key)
	}
	return keys, quiet, nil
}

// checkObjectName applies OSS's object naming rules: 1 to 1023 bytes of UTF-8, not starting
// with / or \.
func checkObjectName(key string) *apiError {
	switch {
	case key == "":
		return newErr(400, "InvalidObjectName", "The Object name can not be empty.")
	case len(key) > 1023:
		return newErr(400, "InvalidObjectName", "The Length of Object name must be less than 1024.")
	case !utf8.ValidString(key) || key[0] == '/' || key[0] == '\\':
		return newErr(400, "InvalidObjectName", "The specified object is not valid.")
	}
	return nil
}

// checkBucketName applies OSS's bucket naming rules: 3 to 63 lower-case letters, digits and
// hyphens, starting and ending with a letter or digit.
func checkBucketName(name string) *apiError {
	bad := len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if bad {
		return newErr(400, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", name)
	}
	return nil
}

// byteRange is a parsed Range header.
type byteRange struct{ start, end int64 } // inclusive

// parseRange reads "bytes=a-b", "bytes=a-" or "bytes=-n" for an object of size. ok=false
// means the header is absent or not a single valid range, which OSS ignores (whole object);
// unsatisfiable=true means the range starts at or past the end (416).
func parseRange(h string, size int64) (r byteRange, ok, unsatisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return r, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return r, false, false
	}
	switch {
	case a == "" && b == "":
		return r, false, false
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return r, false, false
		}
		if size == 0 {
			return r, false, true
		}
		if n > size {
			n = size
		}
		return byteRange{size - n, size - 1}, true, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return r, false, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return r, false, false
		}
		if e < end {
			end = e
		}
	}
	if start >= size {
		return r, false, true
	}
	return byteRange{start, end}, true, false
}

// parseMaxKeys reads max-keys: default def, 1 to max (OSS accepts 0..1000 for listings).
func parseMaxKeys(v string, def, max int) (int, *apiError) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, errInvalidArgument(fmt.Sprintf("Argument max-keys must be an integer between 0 and %d.", max), "max-keys", v)
	}
	return n, nil
}

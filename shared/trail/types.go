// Package trail manages ActionTrail trails: the organization trail and members' single-account trails.
package trail

import (
	"fmt"
	"time"
)

// Spec is a trail as the policy wants it.
type Spec struct {
	Name                   string
	EventRW                string // All | Write | Read
	TrailRegion            string // All or a region id
	Organization           bool
	SLSProjectARN          string
	SLSWriteRoleARN        string
	OSSBucket              string
	OSSKeyPrefix           string
	OSSWriteRoleARN        string
	MaxComputeProjectARN   string
	MaxComputeWriteRoleARN string
}

// State is a trail as observed (DescribeTrails + GetTrailStatus).
type State struct {
	Spec
	Exists                        bool
	Status                        string // Enable | Disable | Fresh
	Logging                       bool
	HomeRegion                    string
	StartLoggingTime              time.Time
	StopLoggingTime               time.Time
	LatestDeliveryError           string
	LatestDeliveryLogServiceError string

	// Added with the Client (Observe fills them).
	ARN                          string // acs:actiontrail:<home region>:<owner>:trail/<name>
	OwnerAccountID               string // from ARN: a member sees the management account's multi-account trail
	OrganizationID               string // the resource directory of a multi-account trail
	CreateTime                   time.Time
	UpdateTime                   time.Time
	LatestDeliveryTime           time.Time // last OSS delivery
	LatestDeliveryLogServiceTime time.Time // last SLS delivery
	SLSLogStoreOK                bool      // GetTrailStatus SlsLogStoreStatus
	OSSBucketOK                  bool      // GetTrailStatus OssBucketStatus
}

// Drift lists the differences between what exists and what is wanted, in words for the report.
// Role ARNs are compared case-insensitively: ActionTrail echoes them lower-cased.
func (s Spec) Drift(st State) []string {
	if !st.Exists {
		return []string{"trail " + s.Name + " does not exist"}
	}
	var d []string
	diff := func(field, want, got string, fold bool) {
		// An unset role means "the service-linked role": ActionTrail fills it in, so any value is fine.
		if fold && (want == "" || equalFold(want, got)) || !fold && want == got {
			return
		}
		d = append(d, fmt.Sprintf("%s is %q, policy wants %q", field, got, want))
	}
	diff("EventRW", s.EventRW, st.EventRW, false)
	diff("TrailRegion", s.TrailRegion, st.TrailRegion, false)
	diff("SlsProjectArn", s.SLSProjectARN, st.SLSProjectARN, false)
	diff("SlsWriteRoleArn", s.SLSWriteRoleARN, st.SLSWriteRoleARN, true)
	diff("OssBucketName", s.OSSBucket, st.OSSBucket, false)
	diff("OssKeyPrefix", s.OSSKeyPrefix, st.OSSKeyPrefix, false)
	diff("OssWriteRoleArn", s.OSSWriteRoleARN, st.OSSWriteRoleARN, true)
	diff("MaxComputeProjectArn", s.MaxComputeProjectARN, st.MaxComputeProjectARN, false)
	if s.Organization != st.Organization {
		d = append(d, fmt.Sprintf("IsOrganizationTrail is %v, policy wants %v (needs delete and re-create)", st.Organization, s.Organization))
	}
	return d
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

package reliability

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"
	logaudit "github.com/aliyun/alibaba-cloud-sdk-go/services/sls"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// childEnv marks a child process of this test binary (see TestFirstSDKClientsConcurrentlyAreRaceFree).
const childEnv = "AUDITWARDEN_RELIABILITY_CHILD"

// TestMain fills alibaba-cloud-sdk-go's lazily built endpoint tables before any test runs. Each
// service package builds its table on first use without synchronization, so the first clients
// made concurrently in a process race. The parallel tests here would otherwise fail at random
// under -race; TestFirstSDKClientsConcurrentlyAreRaceFree checks the product deterministically
// in a fresh process instead.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		resourcemanager.GetEndpointMap()
		actiontrail.GetEndpointMap()
		sts.GetEndpointMap()
		ram.GetEndpointMap()
		logaudit.GetEndpointMap()
	}
	os.Exit(m.Run())
}

// A function instance serving concurrent invocations makes its first SDK clients from several
// goroutines at once. That must be race-free: shared/cloud has to fill the SDK's lazily built
// endpoint tables once, under synchronization, before handing out clients. A fresh process is
// the only place the first use can be observed, so this runs the check in a child process.
func TestFirstSDKClientsConcurrentlyAreRaceFree(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		firstClientsConcurrently(t)
		return
	}
	if !raceDetector {
		t.Skip("needs the race detector (go test -race, as make test runs)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstSDKClientsConcurrentlyAreRaceFree$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("making the first SDK clients from concurrent goroutines races (shared/cloud rpcClient: "+
			"the SDK's GetEndpointMap fills a package variable unsynchronized): %v\n%.3000s", err, out)
	}
}

func firstClientsConcurrently(t *testing.T) {
	ep, err := cloud.EndpointsForRegion("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "LTAI5tExampleKeyId000", AccessKeySecret: "example-secret-0000000000000"}, ep)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(5)
		go func() { defer wg.Done(); _, _ = sess.ResourceManager() }()
		go func() { defer wg.Done(); _, _ = sess.ActionTrail() }()
		go func() { defer wg.Done(); _, _ = sess.STS() }()
		go func() { defer wg.Done(); _, _ = sess.RAM() }()
		go func() { defer wg.Done(); _, _ = sess.LogAudit() }()
	}
	wg.Wait()
}

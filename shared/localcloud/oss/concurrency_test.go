package oss

import (
	"fmt"
	"sync"
	"testing"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// TestConcurrentClients runs object traffic and bucket reconfiguration side by side; under
// -race it checks the locking, and the final state must hold every object written.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	c := e.v1(e.root)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				key := fmt.Sprintf("g%d/%02d", g, i)
				if err := e.put(c, b, key, key); err != nil {
					errs <- err
					return
				}
				if got, err := e.get(c, b, key); err != nil || got != key {
					errs <- fmt.Errorf("get %s = %q, %v", key, got, err)
					return
				}
				if _, err := e.obucket(c, b).ListObjectsV2(alioss.Prefix(fmt.Sprintf("g%d/", g))); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			acl := alioss.ACLPrivate
			if i%2 == 0 {
				acl = alioss.ACLPublicRead
			}
			if err := c.SetBucketACL(b, acl); err != nil {
				errs <- err
				return
			}
			if _, err := c.GetBucketInfo(b); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(e.srv.Keys(b, "g")); n != 80 {
		t.Fatalf("%d objects, want 80", n)
	}
}

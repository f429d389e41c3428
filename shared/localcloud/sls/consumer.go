package sls

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// consumerGroup is a Logstore's consumer group: who is alive, who holds which shard, and the
// checkpoints. Liveness is judged with the world clock.
type consumerGroup struct {
	name        string
	timeout     int
	order       bool
	heartbeats  map[string]time.Time
	owner       map[int]string
	checkpoints map[int]checkpoint
}

type checkpoint struct {
	cursor   string
	updated  time.Time
	consumer string
}

func (c *call) consumerGroupLocked() (*logstore, *consumerGroup, *apiError) {
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return nil, nil, err
	}
	cg := ls.consumerGroups[c.segs[3]]
	if cg == nil {
		return ls, nil, errorf(404, "ConsumerGroupNotExist", "consumer group %s does not exist", c.segs[3])
	}
	return ls, cg, nil
}

func validTimeout(t int) *apiError {
	if t < 1 || t > 86400 {
		return errParam("timeout %d is invalid: it must be from 1 to 86400 seconds", t)
	}
	return nil
}

func (c *call) createConsumerGroup() error {
	var body struct {
		Name    string `json:"consumerGroup"`
		Timeout int    `json:"timeout"`
		Order   bool   `json:"order"`
	}
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	c.logstoreParam(c.segs[1])
	c.param("ConsumerGroup", body.Name)
	if !validLogstoreName(body.Name) {
		return errParam("consumerGroup %q is invalid: it must be 3 to 63 characters of lowercase letters, digits, hyphens and underscores", body.Name)
	}
	if err := validTimeout(body.Timeout); err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return err
	}
	if _, ok := ls.consumerGroups[body.Name]; ok {
		return errorf(400, "ConsumerGroupAlreadyExist", "consumer group %s already exists", body.Name)
	}
	ls.consumerGroups[body.Name] = &consumerGroup{
		name: body.Name, timeout: body.Timeout, order: body.Order,
		heartbeats: map[string]time.Time{}, owner: map[int]string{}, checkpoints: map[int]checkpoint{},
	}
	return nil
}

func (c *call) listConsumerGroups() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return err
	}
	type item struct {
		Name    string `json:"name"`
		Timeout int    `json:"timeout"`
		Order   bool   `json:"order"`
	}
	out := []item{}
	for _, cg := range ls.consumerGroups {
		out = append(out, item{cg.name, cg.timeout, cg.order})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return c.json(out)
}

func (c *call) updateConsumerGroup() error {
	var body struct {
		Timeout *int  `json:"timeout"`
		Order   *bool `json:"order"`
	}
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	c.logstoreParam(c.segs[1])
	c.param("ConsumerGroup", c.segs[3])
	if body.Timeout != nil {
		if err := validTimeout(*body.Timeout); err != nil {
			return err
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, cg, err := c.consumerGroupLocked()
	if err != nil {
		return err
	}
	if body.Timeout != nil {
		cg.timeout = *body.Timeout
	}
	if body.Order != nil {
		cg.order = *body.Order
	}
	return nil
}

func (c *call) deleteConsumerGroup() error {
	c.logstoreParam(c.segs[1])
	c.param("ConsumerGroup", c.segs[3])
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ls, cg, err := c.consumerGroupLocked()
	if err != nil {
		return err
	}
	delete(ls.consumerGroups, cg.name)
	return nil
}

// heartbeat keeps a consumer alive and answers the shards it should hold. Shards are spread
// round robin over the live consumers (sorted by name); a shard moves to its new consumer only
// after the old one stops reporting it, so two consumers never read one shard.
func (c *call) heartbeat() error {
	consumer := c.query.Get("consumer")
	if consumer == "" {
		return errParam("consumer is required")
	}
	var held []int
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &held); err != nil {
			return errParam("the body must be a JSON list of shard ids: %v", err)
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ls, cg, err := c.consumerGroupLocked()
	if err != nil {
		return err
	}
	cg.heartbeats[consumer] = c.now
	var alive []string
	for name, t := range cg.heartbeats {
		if c.now.Sub(t) > time.Duration(cg.timeout)*time.Second {
			delete(cg.heartbeats, name)
			continue
		}
		alive = append(alive, name)
	}
	sort.Strings(alive)
	holds := map[int]bool{}
	for _, id := range held {
		holds[id] = true
	}
	for id, o := range cg.owner {
		if _, ok := cg.heartbeats[o]; !ok || o == consumer && !holds[id] {
			delete(cg.owner, id)
		}
	}
	ids := make([]int, 0, len(ls.shards))
	for _, sh := range ls.shards {
		ids = append(ids, sh.id)
	}
	sort.Ints(ids)
	out := []int{}
	for i, id := range ids {
		if alive[i%len(alive)] != consumer {
			continue
		}
		if o, taken := cg.owner[id]; taken && o != consumer {
			continue
		}
		cg.owner[id] = consumer
		out = append(out, id)
	}
	return c.json(out)
}

func (c *call) updateCheckpoint() error {
	var body struct {
		Shard      int    `json:"shard"`
		Checkpoint string `json:"checkpoint"`
	}
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	if _, err := base64.StdEncoding.DecodeString(body.Checkpoint); err != nil || body.Checkpoint == "" {
		return errorf(400, "InvalidShardCheckPoint", "shard checkpoint not encoded by base64")
	}
	consumer := c.query.Get("consumer")
	force := c.query.Get("forceSuccess") == "true"
	if consumer == "" && !force {
		return errParam("forceSuccess must be true when no consumer is given")
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ls, cg, err := c.consumerGroupLocked()
	if err != nil {
		return err
	}
	if ls.shardByID(body.Shard) == nil {
		return errorf(404, "ShardNotExist", "shard not exist")
	}
	if !force && cg.owner[body.Shard] != consumer {
		return errorf(400, "ConsumerNotMatch", "consumer %s does not hold shard %d", consumer, body.Shard)
	}
	cg.checkpoints[body.Shard] = checkpoint{cursor: body.Checkpoint, updated: c.now, consumer: consumer}
	return nil
}

func (c *call) getCheckpoints() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, cg, err := c.consumerGroupLocked()
	if err != nil {
		return err
	}
	type item struct {
		Shard      int    `json:"shard"`
		Checkpoint string `json:"checkpoint"`
		UpdateTime int64  `json:"updateTime"`
		Consumer   string `json:"consumer"`
	}
	only := -1
	if v := c.query.Get("shard"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return errParam("shard %q is invalid: it must be a shard id", v)
		}
		only = n
	}
	out := []item{}
	for id, cp := range cg.checkpoints {
		if only >= 0 && id != only {
			continue
		}
		out = append(out, item{id, cp.cursor, cp.updated.UnixMicro(), cp.consumer})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return c.json(out)
}

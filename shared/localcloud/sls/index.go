package sls

import (
	"encoding/json"
)

var indexKeyTypes = map[string]bool{"text": true, "long": true, "double": true, "json": true}

// validateIndex checks an index config: a JSON object with a line index, field keys or both;
// every key has a known type; tokens are lists of strings.
func validateIndex(body []byte) (map[string]any, *apiError) {
	var doc map[string]any
	if len(body) == 0 {
		return nil, errParam("The body is not valid json string: the body is empty")
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		return nil, errParam("The body is not valid json string: an index config must be a JSON object")
	}
	line, hasLine := doc["line"]
	keys, hasKeys := doc["keys"]
	if (!hasLine || line == nil) && (!hasKeys || keys == nil) {
		return nil, errParam("index config must have a line index, keys, or both")
	}
	if hasLine && line != nil {
		l, ok := line.(map[string]any)
		if !ok {
			return nil, errParam("index line must be an object")
		}
		if err := validTokens("line", l["token"]); err != nil {
			return nil, err
		}
	}
	if hasKeys && keys != nil {
		km, ok := keys.(map[string]any)
		if !ok {
			return nil, errParam("index keys must be an object of key name to key config")
		}
		for name, v := range km {
			k, ok := v.(map[string]any)
			if !ok {
				return nil, errParam("index key %q must be an object", name)
			}
			typ, _ := k["type"].(string)
			if !indexKeyTypes[typ] {
				return nil, errParam("index key %q has type %v: it must be text, long, double or json", name, k["type"])
			}
			if typ == "text" || typ == "json" {
				if err := validTokens("key "+name, k["token"]); err != nil {
					return nil, err
				}
			}
		}
	}
	return doc, nil
}

func validTokens(where string, v any) *apiError {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return errParam("index %s token must be a list of strings", where)
	}
	for _, t := range list {
		if _, ok := t.(string); !ok {
			return errParam("index %s token must be a list of strings, found %v", where, t)
		}
	}
	return nil
}

func (c *call) createIndex() error { return c.putIndex(true) }
func (c *call) updateIndex() error { return c.putIndex(false) }

func (c *call) putIndex(create bool) error {
	name := c.segs[1]
	c.logstoreParam(name)
	doc, verr := validateIndex(c.body)
	if verr != nil {
		return verr
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ls, err := c.logstoreLocked(name)
	if err != nil {
		return err
	}
	if create && ls.index != nil {
		return errorf(400, "IndexAlreadyExist", "log store index is already created")
	}
	if !create && ls.index == nil {
		return errorf(404, "IndexConfigNotExist", "index config doesn't exist")
	}
	ls.index = doc
	ls.indexModified = c.now
	return nil
}

func (c *call) getIndex() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return err
	}
	if ls.index == nil {
		return errorf(404, "IndexConfigNotExist", "index config doesn't exist")
	}
	return c.json(ls.indexJSON())
}

// indexJSON is the stored config plus the fields the service adds when it answers GetIndex.
func (ls *logstore) indexJSON() map[string]any {
	out := make(map[string]any, len(ls.index)+5)
	for k, v := range ls.index {
		out[k] = v
	}
	out["ttl"] = ls.ttl
	out["lastModifyTime"] = ls.indexModified.Unix()
	out["index_mode"] = "v2"
	out["storage"] = "pg"
	if _, ok := out["max_text_len"]; !ok {
		out["max_text_len"] = 2048
	}
	if _, ok := out["log_reduce"]; !ok {
		out["log_reduce"] = false
	}
	return out
}

func (c *call) deleteIndex() error {
	name := c.segs[1]
	c.logstoreParam(name)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ls, err := c.logstoreLocked(name)
	if err != nil {
		return err
	}
	if ls.index == nil {
		return errorf(404, "IndexConfigNotExist", "index config doesn't exist")
	}
	ls.index = nil
	return nil
}

// serviceIndex is the index a service-managed Logstore gets: full-text plus the fields the
// service's logs carry, so searches such as `event.eventName: CreateTrail` work at once.
func serviceIndex(logstore string) map[string]any {
	text := func() map[string]any {
		return map[string]any{"type": "text", "token": []any{",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r"}, "caseSensitive": false, "doc_value": true}
	}
	keys := map[string]any{"__topic__": text()}
	if len(logstore) >= len("actiontrail_") && logstore[:len("actiontrail_")] == "actiontrail_" {
		jsonKeys := map[string]any{}
		for _, k := range []string{"eventId", "eventName", "eventSource", "eventType", "eventRW", "eventTime",
			"serviceName", "acsRegion", "recipientAccountId", "sourceIpAddress", "errorCode", "requestId",
			"userIdentity.accountId", "userIdentity.type", "userIdentity.principalId", "userIdentity.userName",
			"userIdentity.accessKeyId", "userIdentity.sessionName", "userIdentity.arn"} {
			jsonKeys[k] = map[string]any{"type": "text", "doc_value": true}
		}
		ev := text()
		ev["type"] = "json"
		ev["json_keys"] = jsonKeys
		ev["index_all"] = true
		ev["max_depth"] = -1
		keys["event"] = ev
	} else {
		for _, k := range []string{"operation", "bucket", "object", "owner_id", "requester_id", "http_status", "client_ip", "request_id"} {
			keys[k] = text()
		}
	}
	line := text()
	delete(line, "type")
	delete(line, "doc_value")
	return map[string]any{"line": line, "keys": keys}
}

func (c *call) indexMissing(ls *logstore) *apiError {
	if ls.index == nil {
		return errorf(400, "IndexConfigNotExist", "logstore without index config: create an index on %s before querying it", ls.name)
	}
	return nil
}

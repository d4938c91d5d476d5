package bus_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/registry"
)

// The supervisors' keys are part of the same contract: every field the
// registry, the audit stream and the command path write is in schema.json.
func TestSchemaCoversTheSupervisorKeys(t *testing.T) {
	b, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Description string `json:"description"`
		Defs        map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	for def, v := range map[string]any{
		"RegistryRecord": registry.Record{}, "RegistryMonitor": registry.Monitor{}, "RegistryLive": registry.Live{}, "Mood": registry.Mood{},
		"Controller": registry.Controller{}, "AuditEntry": audit.Entry{}, "CommandRequest": command.Request{}, "CommandReply": command.Reply{},
	} {
		props, ok := schema.Defs[def]
		if !ok {
			t.Errorf("%s is not in schema.json", def)
			continue
		}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if _, ok := props.Properties[name]; !ok {
				t.Errorf("%s.%s is not in schema.json", def, name)
			}
		}
	}
	for _, key := range []string{registry.CallKey("<id>"), registry.IndexKey, registry.HeartbeatKey("<id>"), registry.ControllersKey,
		audit.StreamKey, command.Channel("<id>"), command.ReplyKey("<request id>")} {
		if !strings.Contains(schema.Description, key) {
			t.Errorf("key %s is not described in schema.json", key)
		}
	}
}

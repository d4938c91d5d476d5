package bus

import (
	_ "embed"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/analysis"
)

//go:embed schema.json
var schemaJSON []byte

// schema is what the tests read of schema.json: each definition's properties.
type schema struct {
	Defs map[string]struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"$defs"`
}

func readSchema(t *testing.T) schema {
	t.Helper()
	var s schema
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	return s
}

// The schema file is the dashboards' contract: it must name every event
// type and every field the code writes (a field added in code and not in
// the schema fails here).
func TestSchemaCoversTheEvents(t *testing.T) {
	schema := readSchema(t)
	types := string(schema.Defs["Event"].Properties["type"])
	for _, typ := range []Type{TypeCallState, TypeCallMode, TypeCoachLine, TypeAnalytics, TypeSpeech, TypeAlert} {
		if !strings.Contains(types, `"`+string(typ)+`"`) {
			t.Errorf("event type %s missing from schema.json", typ)
		}
	}
	for def, v := range map[string]any{
		"Event": Event{}, "StateData": StateData{}, "ModeData": ModeData{}, "CoachLineData": CoachLineData{},
		"SpeechData": SpeechData{}, "AlertData": AlertData{},
	} {
		props := schema.Defs[def].Properties
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if _, ok := props[name]; !ok {
				t.Errorf("%s.%s is not in schema.json", def, name)
			}
		}
	}
}

// The analytics measures too (they are the analysis package's JSON).
func TestSchemaCoversTheMeasures(t *testing.T) {
	schema := readSchema(t)
	var s analysis.Snapshot
	s.Overtalk.Active = true
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if _, ok := schema.Defs["Measures"].Properties[k]; !ok {
			t.Errorf("measures.%s is not in schema.json", k)
		}
	}
	var side map[string]json.RawMessage
	if err := json.Unmarshal(m["customer"], &side); err != nil {
		t.Fatal(err)
	}
	for k := range side {
		if _, ok := schema.Defs["Side"].Properties[k]; !ok {
			t.Errorf("measures.customer.%s is not in schema.json", k)
		}
	}
}

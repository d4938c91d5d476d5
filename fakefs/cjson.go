package fakefs

import (
	"fmt"
	"strconv"
	"strings"
)

// jobj is an ordered JSON object for cjsonPrint.
type jobj []jkv

type jkv struct {
	k string
	v any // string, int, bool, jobj, []any
}

// cjsonPrint renders like cJSON_Print (FreeSWITCH's json_list): tab
// indentation, `"key":<TAB>value`, arrays inline with ", ".
func cjsonPrint(v any) string {
	var b strings.Builder
	cjsonValue(&b, v, 0)
	return b.String()
}

func cjsonValue(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case string:
		cjsonString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case jobj:
		depth++
		b.WriteString("{\n")
		for i, kv := range x {
			b.WriteString(strings.Repeat("\t", depth))
			cjsonString(b, kv.k)
			b.WriteString(":\t")
			cjsonValue(b, kv.v, depth)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("\t", depth-1))
		b.WriteByte('}')
	case []any:
		depth++
		b.WriteByte('[')
		for i, item := range x {
			cjsonValue(b, item, depth)
			if i < len(x)-1 {
				b.WriteString(", ")
			}
		}
		b.WriteByte(']')
	default:
		cjsonString(b, fmt.Sprint(x))
	}
}

func cjsonString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

package llmcoach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeModel is an OpenAI-compatible endpoint that answers content.
func fakeModel(t *testing.T, status int, content string, block chan struct{}) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" {
			t.Errorf("request %s %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		var req request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "m" || len(req.Messages) != 2 ||
			req.Messages[0].Role != "system" || !strings.Contains(req.Messages[1].Content, "customer: I want to cancel") {
			t.Errorf("request body %+v %v", req, err)
		}
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%q}}]}`, content)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSuggest(t *testing.T) {
	turns := []Turn{{"agent", "How can I help?"}, {"customer", "I want to cancel"}}
	tests := []struct {
		name    string
		status  int
		content string
		want    string
		err     bool
	}{
		{"a line", 200, `"Ask why they want to leave before offering anything."`, "Ask why they want to leave before offering anything.", false},
		{"nothing to say", 200, "NONE.", "", false},
		{"only the first line", 200, "Acknowledge the frustration.\nThen offer a callback.", "Acknowledge the frustration.", false},
		{"an error status", 500, "boom", "", true},
		{"a speech, not a whisper", 200, strings.Repeat("word ", 60), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeModel(t, tt.status, tt.content, nil)
			c := &Client{URL: srv.URL + "/v1", Model: "m", APIKey: "k"}
			got, err := c.Suggest(context.Background(), turns)
			if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrModel)) {
				t.Fatalf("got %q %v, want %q (error %v)", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestSuggestGivesUpOnTime(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	srv := fakeModel(t, 200, "", block)
	c := &Client{URL: srv.URL + "/v1", Model: "m", APIKey: "k", Timeout: 100 * time.Millisecond}
	// The server never answers: the budget, not the server, ends the request.
	_, err := c.Suggest(context.Background(), []Turn{{"customer", "I want to cancel"}})
	if !errors.Is(err, ErrModel) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// Package llmcoach asks a language model — any OpenAI-compatible chat
// completions endpoint, such as a local llama.cpp or Ollama server — for one
// short line to say to the agent, given the conversation so far. It is
// optional and bounded in time: the rule-based coach never waits for it.
package llmcoach

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Prompt is the system prompt: the model answers with one line or NONE.
const Prompt = `You coach a contact-centre agent during a live call. You see the conversation so far.
If the agent would clearly benefit from advice right now, reply with ONE short sentence (at most 15 words) addressed to the agent, to be whispered in their ear.
Otherwise reply with exactly NONE. Never address the customer. No quotes, no preamble.`

// ErrModel: the endpoint failed or answered something unusable.
var ErrModel = errors.New("llmcoach: model")

// Client talks to one endpoint.
type Client struct {
	URL     string        // base URL, e.g. http://127.0.0.1:8080/v1
	Model   string        // model name the endpoint expects
	APIKey  string        // sent as a bearer token when set
	Timeout time.Duration // the whole request's budget (default 3 s)
	HTTP    *http.Client  // default http.DefaultClient
}

// Turn is one utterance of the conversation.
type Turn struct {
	Side string // "customer" or "agent"
	Text string
}

type request struct {
	Model       string    `json:"model"`
	Messages    []message `json:"messages"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature float64   `json:"temperature"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type response struct {
	Choices []struct {
		Message message `json:"message"`
	} `json:"choices"`
}

// Suggest returns a line for the agent, or "" when the model has nothing to
// say. It gives up after Timeout.
func (c *Client) Suggest(ctx context.Context, turns []Turn) (string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conv strings.Builder
	for _, t := range turns {
		fmt.Fprintf(&conv, "%s: %s\n", t.Side, t.Text)
	}
	body, err := json.Marshal(request{Model: c.Model, MaxTokens: 40, Temperature: 0.2, Messages: []message{
		{Role: "system", Content: Prompt},
		{Role: "user", Content: conv.String()},
	}})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrModel, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrModel, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrModel, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s: %.200s", ErrModel, resp.Status, b)
	}
	var r response
	if err := json.Unmarshal(b, &r); err != nil || len(r.Choices) == 0 {
		return "", fmt.Errorf("%w: unusable answer %.200q", ErrModel, b)
	}
	line := strings.Trim(strings.TrimSpace(r.Choices[0].Message.Content), `"'`)
	if line == "" || strings.EqualFold(strings.TrimRight(line, "."), "none") {
		return "", nil
	}
	if i := strings.IndexByte(line, '\n'); i >= 0 { // one line only
		line = strings.TrimSpace(line[:i])
	}
	if len(line) > 200 {
		return "", fmt.Errorf("%w: a line of %d characters is not a whisper", ErrModel, len(line))
	}
	return line, nil
}

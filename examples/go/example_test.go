package upstage_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	upstage "github.com/upstage-rs/upstage/examples/go"
)

func Example() {
	client, err := upstage.NewClient(upstage.Options{
		APIKey: os.Getenv("UPSTAGE_API_KEY"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.Stream(ctx, upstage.Request{
		Model: "solar-pro4",
		Messages: []upstage.Message{
			upstage.System("Answer in one sentence."),
			upstage.User("Why is the sky blue?"),
		},
		Params: map[string]any{"temperature": 0.2},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for stream.Next() {
		fmt.Print(stream.Text())
	}
	if err := stream.Err(); err != nil {
		var e *upstage.Error
		switch {
		case errors.Is(err, upstage.ErrCancelled):
			log.Fatal("cancelled: ", err)
		case errors.As(err, &e) && e.Status == upstage.StatusHTTP:
			log.Fatalf("HTTP %d: %s", e.HTTPStatus, e.Message)
		default:
			log.Fatal(err)
		}
	}
	fmt.Println()
}

func ExampleStream_NextEvent() {
	client, err := upstage.NewClient(upstage.Options{BaseURL: "http://localhost:8000/v1"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	stream, err := client.Stream(context.Background(), upstage.Request{
		Messages: []upstage.Message{upstage.User("What is 17 * 23?")},
		Params:   map[string]any{"stream_options": map[string]bool{"include_usage": true}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for stream.NextEvent() {
		switch ev := stream.Event(); ev.Kind {
		case upstage.EventReasoning:
			fmt.Fprint(os.Stderr, ev.Text)
		case upstage.EventContent:
			fmt.Print(ev.Text)
		case upstage.EventUsage:
			fmt.Fprintf(os.Stderr, "\n%d tokens\n", ev.Usage.TotalTokens)
		}
	}
	if err := stream.Err(); err != nil {
		log.Fatal(err)
	}
}

func ExampleFormatPrompt() {
	prompt, err := upstage.FormatPrompt([]upstage.Message{
		upstage.System("Be brief."),
		upstage.User("Hi"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", prompt)
	// Output: "System: Be brief.\nUser: Hi\nAssistant:"
}

func ExampleResolveModel() {
	fmt.Println(upstage.ResolveModel("solar-mini"))
	fmt.Println(upstage.ResolveModel("gpt-4o"))
	// Output:
	// upstage/solar-1-mini-chat-ja
	// solar-pro
}

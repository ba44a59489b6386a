// An agent's session reported to the feedback gateway: two turns (one used a tool), the user's
// thumbs-up on the second, and the task's outcome. Run with GATEWAY_URL and GATEWAY_API_KEY set
// (a key from `feedbackctl gateway keys add --agent ts-support-bot`); prints what it stored.

import { GatewayClient, newEventId, type FeedbackEvent } from "./gateway_client.js";

const url = process.env.GATEWAY_URL ?? "http://127.0.0.1:8070";
const apiKey = process.env.GATEWAY_API_KEY;
if (!apiKey) {
  console.error("set GATEWAY_API_KEY (feedbackctl gateway keys add --agent ts-support-bot)");
  process.exit(2);
}
const agentId = process.env.AGENT_ID ?? "ts-support-bot";
const sessionId = process.env.SESSION_ID ?? `ts-${newEventId()}`;

const first = newEventId();
const second = newEventId();
const events: FeedbackEvent[] = [
  {
    type: "interaction",
    event_id: first,
    session_id: sessionId,
    turn_index: 0,
    agent_id: agentId,
    agent_version: "1.2.0",
    model: "acme-llm-large",
    prompt: "Where is my order 42?",
    response: "Order 42 ships tomorrow.",
    latency_ms: 812,
    prompt_tokens: 18,
    completion_tokens: 9,
    cost_usd: 0.0002,
    tools_used: [{ name: "lookup_order", arguments: { order: 42 }, latency_ms: 120 }],
    event_time: new Date(Date.now() - 2_000).toISOString(),
  },
  {
    type: "interaction",
    event_id: second,
    session_id: sessionId,
    turn_index: 1,
    agent_id: agentId,
    agent_version: "1.2.0",
    model: "acme-llm-large",
    prompt: "Can it come sooner?",
    response: "Express shipping is available for 5 EUR.",
    latency_ms: 640,
    event_time: new Date(Date.now() - 1_000).toISOString(),
  },
  { type: "feedback", event_id: newEventId(), session_id: sessionId, interaction_id: second,
    kind: "thumbs", thumbs_up: true },
  { type: "signal", event_id: newEventId(), session_id: sessionId, kind: "task_completed" },
];

const client = new GatewayClient(url, apiKey);
const stored = await client.send(events);
console.log(JSON.stringify({ session_id: sessionId, interaction_ids: [first, second], stored }));

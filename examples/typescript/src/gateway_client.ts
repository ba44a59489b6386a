// A small client of the feedback gateway: POST /v1/events with Node's built-in fetch.
//
// Events are the producer SDK's records as JSON (docs/producer.md), each with a `type`. The
// gateway answers per event: accepted (stored in Kafka or its durable spool), rejected (with
// the fields at fault) or unavailable (retry after Retry-After). Each event carries its own
// event_id, so sending a batch again after a 503, a 429 or a network error is safe: the
// pipeline deduplicates by event_id.

import { randomUUID } from "node:crypto";

export interface ToolCall {
  name: string;
  arguments?: unknown;
  status?: "ok" | "error" | "timeout";
  latency_ms?: number;
}

export interface Interaction {
  type: "interaction";
  event_id: string;
  session_id: string;
  turn_index: number;
  agent_id: string;
  agent_version: string;
  model: string;
  prompt: string;
  response: string;
  latency_ms: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  cost_usd?: number;
  tools_used?: ToolCall[];
  event_time?: string | number;
}

export interface Feedback {
  type: "feedback";
  event_id: string;
  session_id: string;
  interaction_id?: string;
  kind: "thumbs" | "rating" | "correction" | "comment";
  thumbs_up?: boolean;
  rating?: number;
  correction?: string;
  comment?: string;
}

export interface Signal {
  type: "signal";
  event_id: string;
  session_id: string;
  kind: "task_completed" | "task_failed" | "retried" | "escalated_to_human" | "copied_response";
  interaction_id?: string;
}

export type FeedbackEvent = Interaction | Feedback | Signal;

export interface BatchAnswer {
  accepted: { index: number; event_id: string; stored: "kafka" | "spool" }[];
  rejected: { index: number; errors: { field: string | null; message: string }[] }[];
  unavailable: { index: number; event_id: string }[];
}

export class RejectedEventsError extends Error {
  constructor(readonly answer: BatchAnswer) {
    super(
      "the gateway rejected " +
        answer.rejected
          .map((r) => `#${r.index}: ${r.errors.map((e) => `${e.field}: ${e.message}`).join(", ")}`)
          .join("; "),
    );
  }
}

export function newEventId(): string {
  return randomUUID();
}

export class GatewayClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly maxAttempts = 5,
  ) {}

  /** Send a batch; resolves once every event is stored, retrying what the gateway could not take. */
  async send(events: FeedbackEvent[]): Promise<string[]> {
    let pending = events;
    const stored: string[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const response = await fetch(`${this.baseUrl}/v1/events`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.apiKey}` },
        body: JSON.stringify(pending),
        signal: AbortSignal.timeout(30_000),
      });
      if (response.status === 429 || (response.status === 503 && attempt < this.maxAttempts)) {
        const waitS = Number(response.headers.get("Retry-After") ?? "1");
        if (response.status === 503) {
          const answer = (await response.json()) as BatchAnswer;
          stored.push(...answer.accepted.map((a) => a.event_id));
          const retry = new Set(answer.unavailable.map((u) => u.index));
          pending = pending.filter((_, i) => retry.has(i));
        }
        if (attempt >= this.maxAttempts) throw new Error(`gave up after ${attempt} attempts`);
        await new Promise((resolve) => setTimeout(resolve, waitS * 1000));
        continue;
      }
      if (response.status !== 202 && response.status !== 400) {
        throw new Error(`gateway answered ${response.status}: ${await response.text()}`);
      }
      const answer = (await response.json()) as BatchAnswer;
      if (answer.rejected.length > 0) throw new RejectedEventsError(answer);
      stored.push(...answer.accepted.map((a) => a.event_id));
      pending = [];
    }
    return stored;
  }
}

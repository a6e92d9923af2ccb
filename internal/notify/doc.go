// Package notify tells a team what berth did — builds started, succeeded
// or failed, deploys succeeded or failed, rollbacks — through
// Slack-compatible incoming webhooks and generic JSON webhooks.
//
// Invariants:
//   - Send never blocks its caller: events go into a bounded queue, and
//     when it is full they are dropped and counted (Dropped). A failing or
//     hanging receiver never delays a build or a deploy.
//   - Run owns every goroutine of the Notifier: one dispatcher and one
//     worker per target (so a hanging receiver delays no other target),
//     all stopped and waited for before Run returns. Workers idle for
//     Options.IdleTimeout exit; a target's events are delivered in order.
//   - Each attempt is bounded by Options.Timeout. Network errors, 5xx, 408
//     and 429 are retried with exponential backoff and jitter, waiting at
//     least the receiver's Retry-After (capped by MaxRetryAfter); other
//     4xx are not retried. After Attempts attempts the event is given up
//     with one log line and counted (Failed).
//   - Webhook URLs are secrets (Slack's carry the token in the path): logs
//     and errors show only their scheme and host.
package notify

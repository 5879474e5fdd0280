// The actions the adapters accept: a `flux/committed` batch of stored events, or any
// other action as one local event.

/** The action type of a batch of committed (stored) events. */
export const COMMITTED = "flux/committed";

/** `{ type: "flux/committed", payload: events }`: stored events as the server committed them. */
export const committed = (events) => ({ type: COMMITTED, payload: events });

/** The events an action carries: a committed batch, or the action itself as a local event. */
export function eventsOf(action, local) {
  if (!action || typeof action.type !== "string") return null;
  if (action.type === COMMITTED) return action.payload;
  if (!local || action.type.startsWith("@@")) return null;
  return [action];
}

import { enGB, type Catalogue } from "./en-GB";

// US English: the same words, where they differ spelled and phrased the American way.
export const enUS: Catalogue = {
  ...enGB,
  "booking.travellers": "Travelers",
  "booking.lead": "Lead traveler",
  "booking.shares": "Each traveler's share",
  "booking.travellersCount": { one: "{count} traveler", other: "{count} travelers" },
  "col.traveller": "Traveler",
  "schedule.leadOnly": "Only the lead traveler can approve scheduled payments.",
  "app.support": "Questions? Contact {brand}",
  "nav.trips": "My trips",
};

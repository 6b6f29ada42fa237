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
  "booking.detailsPercent": "Traveler details: {percent} complete",
  "booking.detailsLink": "Fill in traveler details",
  "details.title": "Traveler details",
  "details.back": "Back to traveler details",
  "details.onlyYou": "You can see and change your own details here. The lead traveler can fill in everyone's.",
  "details.by.customer": "a traveler",
  "details.postcode": "ZIP or postal code",
  "details.region": "State, province or region",
  "details.phoneHint": "With the country code, e.g. +1 202 555 0143. A number without it is read in your home country.",
  "details.err.phone": "Enter a valid phone number with its country code, e.g. +1 202 555 0143.",
};

// Starts GOV.UK Frontend's components (a static file: the CSP allows no inline script). A module
// runs only in browsers GOV.UK Frontend supports, so the class that turns its JS styles on is
// set here too. Every page works without it.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// The catalog view: every label in the library with how many objects show it, each a link to its search.
import { apiGet } from "./api.js";
import { announce, make, searchHash } from "./elements.js";
import { fillSuggestions, waitForCatalog } from "./search.js";

let catalog = null;

export function loadCatalog() {
  const loading = apiGet("/labels").then(({ labels }) => {
    catalog = labels;
    fillSuggestions(labels);
    return labels;
  });
  waitForCatalog(loading);
  return loading;
}

export async function showCatalog() {
  const list = document.getElementById("catalog-list");
  list.replaceChildren();
  let labels;
  try {
    labels = await loadCatalog();
  } catch (error) {
    announce(error.message);
    return;
  }
  list.append(...labels.map(({ label, objects }) => make("li", {},
    make("a", { href: searchHash([label]), text: label }),
    make("span", { className: "count", text: ` ${objects} ${objects === 1 ? "object" : "objects"}` }))));
  announce(`${labels.length} label${labels.length === 1 ? "" : "s"} in the library`);
}

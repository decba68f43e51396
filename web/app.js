// The page's start and its router: config.json first, the return from sign-in, then the view
// named by location.hash (#/search?label=..., #/item?key=..., #/catalog, #/upload).
import { configureApi } from "./api.js";
import { finishSignIn, signedIn, signIn, signOut } from "./auth.js";
import { loadCatalog, showCatalog } from "./catalog.js";
import { announce } from "./elements.js";
import { showItem } from "./item.js";
import { setUpSearch, showSearch } from "./search.js";
import { setUpUpload } from "./upload.js";

const VIEWS = {
  search: showSearch,
  item: showItem,
  catalog: showCatalog,
  upload: async () => {},
};

function showView(name) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (!signedIn()) {
    showView("signed-out");
    return;
  }
  const [path, queryText = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const name = VIEWS[path] ? path : "search";
  announce(""); // the last view's news ("3 results for cat") is not this view's
  showView(name);
  await VIEWS[name](new URLSearchParams(queryText));
}

async function start() {
  const config = await (await fetch("config.json", { cache: "no-store" })).json();
  configureApi(config);
  document.getElementById("sign-in").addEventListener("click", () => signIn(config.auth));
  document.getElementById("sign-out").addEventListener("click", () => signOut(config.auth));
  setUpSearch();
  setUpUpload();
  try {
    await finishSignIn(config.auth);
  } catch (error) {
    announce(error.message);
  }
  document.getElementById("sign-out").hidden = !signedIn();
  window.addEventListener("hashchange", route);
  // Suggestions for the search box, asked for with the first view; the page works without them.
  if (signedIn()) loadCatalog().catch(() => {});
  await route();
}

start().catch((error) => announce(`The page could not start: ${error.message}`));

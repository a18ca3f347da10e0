/* The app's page script (a module; every page works without it): service worker and update
 * prompt, install, offline banner, patron snapshot, saved list, visited records, offline page and
 * search, queued offline actions, scanner, push. Each concern is a module of its own. */

import { initOfflineForms, rememberAskStamp, renderQueue } from "./actions.js";
import { initAnswers } from "./answers.js";
import { initCovers } from "./covers.js";
import { initLogout } from "./logout.js";
import { renderOffline } from "./offline.js";
import { initPush } from "./push.js";
import { initRecordPage, renderSaved } from "./saved.js";
import { initScanLink, initScanner } from "./scanner.js";
import { loggedIn } from "./session.js";
import { initInstall, initOnlineState, initServiceWorker } from "./shell.js";
import { refreshSnapshot } from "./snapshot.js";
import { initAskSuggest, initSuggest } from "./suggest.js";
import { initFullscreen, initShare } from "./ui.js";

initCovers();
initServiceWorker("/sw.js");
initAskSuggest();
initSuggest();
initShare();
initInstall();
initRecordPage();
initLogout();
initOfflineForms();
rememberAskStamp();
initOnlineState();
renderSaved();
renderOffline();
renderQueue();
initFullscreen();
initScanLink();
initScanner();
initPush();
initAnswers();
if (loggedIn()) refreshSnapshot(false);

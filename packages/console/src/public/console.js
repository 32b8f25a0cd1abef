// Live operation progress on an app page: the console relays the catalog's addonEvents
// subscription as server-sent events; each event is listed and the app's state reloaded.
(() => {
  const list = document.getElementById('events');
  if (!list || !('EventSource' in window)) return;
  const status = document.getElementById('activity-status');
  const app = list.dataset.app;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  // From the last event the page was rendered with: older ones are already on it.
  const after = list.dataset.after;
  const source = new EventSource(`${appPath}/events${after ? `?after=${encodeURIComponent(after)}` : ''}`);
  // #app-state holds forms, and replacing it throws away what the user typed there (or the
  // values of a refused form shown again: then the address is the form's, not the app's).
  // So the refresh waits while a form there is edited: until it is sent, or until nothing
  // has been typed for HOLD_MS (a form given up on should not freeze the page for good).
  const HOLD_MS = 5 * 60_000;
  let editedAt = window.location.pathname === appPath ? 0 : Date.now();
  document.addEventListener('input', (event) => {
    if (event.target instanceof Element && event.target.closest('#app-state form')) editedAt = Date.now();
  });
  document.addEventListener('submit', () => {
    editedAt = 0;
  });
  const holding = () => Date.now() - editedAt < HOLD_MS;
  let refreshing = false;
  const refresh = async () => {
    if (refreshing) return;
    if (holding()) {
      const note = ' (the page updates once your form is sent)';
      if (status && !status.textContent.endsWith(note)) status.textContent += note;
      return;
    }
    refreshing = true;
    try {
      // The app's own page, not the current URL: after a refused form that is the form's POST address.
      const res = await fetch(`${appPath}${window.location.search}`, {
        headers: { accept: 'text/html' },
      });
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('app-state');
      const current = document.getElementById('app-state');
      // Keep keyboard focus where it was when the section is replaced.
      if (fresh && current && !current.contains(document.activeElement) && !holding()) current.replaceWith(fresh);
    } finally {
      refreshing = false;
    }
  };
  source.addEventListener('addon', (message) => {
    const event = JSON.parse(message.data);
    const item = document.createElement('li');
    item.textContent = `${event.createdAt.replace('T', ' ').slice(0, 19)}  ${event.kind}${event.addon ? `  ${event.addon}` : ''}`;
    list.prepend(item);
    if (status) status.textContent = `Last: ${event.kind}`;
    void refresh();
  });
  source.addEventListener('failure', (message) => {
    if (status) status.textContent = `Live updates stopped: ${message.data}`;
    source.close();
  });
})();

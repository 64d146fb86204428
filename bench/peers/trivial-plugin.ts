/**
 * The plugin of the bench's hook-cost runs (`npm run bench -- --hooks`): a
 * trivial auth_on_register and auth_on_publish (both versions) that allow
 * everything, so the runs measure what calling a hook costs, nothing else.
 * Loaded by every actor host (module plugin) or registered in the broker's
 * own process by shoal-embedded.ts.
 */
const allow = (): 'ok' => 'ok';

export default {
  auth_on_register: allow,
  auth_on_register_m5: allow,
  auth_on_publish: allow,
  auth_on_publish_m5: allow,
};

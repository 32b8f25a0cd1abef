import type { Command } from '../command.js';
import addonsAttach from './addons/attach.js';
import addonsCreate from './addons/create.js';
import addonsDestroy from './addons/destroy.js';
import addonsDetach from './addons/detach.js';
import addonsInfo from './addons/info.js';
import addons from './addons/list.js';
import addonsOpen from './addons/open.js';
import addonsRotate from './addons/rotate.js';
import addonsShare from './addons/share.js';
import addonsUnshare from './addons/unshare.js';
import addonsUpgrade from './addons/upgrade.js';
import adminBrokersRefresh from './admin/brokers-refresh.js';
import adminBrokersRegister from './admin/brokers-register.js';
import adminListings from './admin/listings.js';
import adminListingsApprove from './admin/listings-approve.js';
import adminListingsReject from './admin/listings-reject.js';
import adminOrgsCreate from './admin/orgs-create.js';
import adminPlatformsCreate from './admin/platforms-create.js';
import adminProvidersCreate from './admin/providers-create.js';
import {
  addMember as adminProvidersMembersAdd,
  removeMember as adminProvidersMembersRemove,
} from './admin/providers-members.js';
import adminTokensCreate from './admin/tokens-create.js';
import adminTokensRevoke from './admin/tokens-revoke.js';
import appsCreate from './apps/create.js';
import appsInfo from './apps/info.js';
import apps from './apps/list.js';
import billing from './billing.js';
import configPull from './config/pull.js';
import configSet from './config/set.js';
import config from './config/show.js';
import configUnset from './config/unset.js';
import configWatch from './config/watch.js';
import invoices from './invoices.js';
import login from './login.js';
import marketplace from './marketplace.js';
import releases from './releases/list.js';
import releasesRollback from './releases/rollback.js';
import run from './run.js';

/** Every command, in the order `annex help` lists them. */
export const commands: readonly Command[] = [
  login,
  marketplace,
  apps,
  appsCreate,
  appsInfo,
  addons,
  addonsInfo,
  addonsCreate,
  addonsAttach,
  addonsDetach,
  addonsUpgrade,
  addonsRotate,
  addonsOpen,
  addonsShare,
  addonsUnshare,
  addonsDestroy,
  config,
  configSet,
  configUnset,
  configPull,
  configWatch,
  run,
  releases,
  releasesRollback,
  billing,
  invoices,
  adminOrgsCreate,
  adminPlatformsCreate,
  adminProvidersCreate,
  adminProvidersMembersAdd,
  adminProvidersMembersRemove,
  adminTokensCreate,
  adminTokensRevoke,
  adminBrokersRegister,
  adminBrokersRefresh,
  adminListings,
  adminListingsApprove,
  adminListingsReject,
];

/** The command with this id (`addons:create`, `admin orgs:create`). */
export function findCommand(id: string): Command | undefined {
  return commands.find((c) => c.id === id);
}

import { useTitle } from "../app";
import { PageHeading } from "../components";
import { useI18n } from "../i18n";

export function NotFound() {
  const { t } = useI18n();
  useTitle(t("app.notFound"));
  return (
    <div class="narrow">
      <PageHeading>{t("app.notFound")}</PageHeading>
      <p>
        <a href="/">{t("app.backToTrips")}</a>
      </p>
    </div>
  );
}
